"""Chat history in SQLite: conversations, messages (saved while they stream) and attachments."""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, get_args

from gemma_desktop.core.chat import Role
from gemma_desktop.core.errors import StorageError, UserError

MessageStatus = Literal["done", "streaming", "stopped", "error"]

DEFAULT_TITLE = "New chat"
TITLE_MAX_CHARS = 48
_ROLES = frozenset(get_args(Role))
_STATUSES = frozenset(get_args(MessageStatus))
# SQLite primary result codes (the low byte of an extended code).
_SQLITE_PERM, _SQLITE_BUSY, _SQLITE_READONLY, _SQLITE_IOERR = 3, 5, 8, 10
_SQLITE_CORRUPT, _SQLITE_FULL, _SQLITE_CANTOPEN, _SQLITE_NOTADB = 11, 13, 14, 26


class DamagedHistoryError(StorageError):
    """The history file is not a SQLite database or is corrupt; open_or_recover moves it aside."""


@dataclass(frozen=True)
class Conversation:
    """One row of `conversations`."""

    id: int
    title: str
    model_id: str | None
    system_prompt: str
    created_at: float
    updated_at: float
    # Think before answering: None follows the app-wide default.
    thinking: bool | None = None


@dataclass(frozen=True)
class Message:
    """One row of `messages`; `stats` is the decoded JSON (prompt_tokens, ttft_s, ...)."""

    id: int
    conversation_id: int
    role: Role
    content: str
    thinking: str
    status: MessageStatus
    finish_reason: str | None
    model_id: str | None
    stats: dict[str, Any]
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class AttachmentRecord:
    """One row of `attachments`: a document's metadata and extracted text."""

    id: int
    conversation_id: int
    message_id: int | None
    path: str
    name: str
    kind: str
    content_hash: str
    pages: int | None
    token_count: int
    text: str
    warnings: list[str]
    created_at: float


@dataclass(frozen=True)
class SearchHit:
    """A search match: the conversation, the matching message (None for a title) and a snippet."""

    conversation: Conversation
    message_id: int | None
    snippet: str


def _migrate_to_v1(conn: sqlite3.Connection) -> None:
    """Create the first schema."""
    conn.execute(
        """CREATE TABLE conversations (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            title TEXT NOT NULL,
            model_id TEXT,
            system_prompt TEXT NOT NULL DEFAULT '',
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL)"""
    )
    conn.execute(
        """CREATE TABLE messages (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
            content TEXT NOT NULL DEFAULT '',
            thinking TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL DEFAULT 'done'
                CHECK (status IN ('done', 'streaming', 'stopped', 'error')),
            finish_reason TEXT,
            model_id TEXT,
            stats TEXT NOT NULL DEFAULT '{}',
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL)"""
    )
    conn.execute(
        """CREATE TABLE attachments (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            message_id INTEGER REFERENCES messages(id) ON DELETE CASCADE,
            path TEXT NOT NULL,
            name TEXT NOT NULL,
            kind TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            pages INTEGER,
            token_count INTEGER NOT NULL DEFAULT 0,
            text TEXT NOT NULL DEFAULT '',
            warnings TEXT NOT NULL DEFAULT '[]',
            created_at REAL NOT NULL)"""
    )
    conn.execute("CREATE INDEX messages_by_conversation ON messages(conversation_id, id)")
    conn.execute("CREATE INDEX attachments_by_message ON attachments(message_id)")
    # Cascades from conversations need this one too, or each delete scans the table.
    conn.execute("CREATE INDEX attachments_by_conversation ON attachments(conversation_id)")


def _migrate_to_v2(conn: sqlite3.Connection) -> None:
    """Conversations get their own thinking switch (NULL: the app-wide default)."""
    conn.execute("ALTER TABLE conversations ADD COLUMN thinking INTEGER")


# MIGRATIONS[i] upgrades a database from user_version i to i + 1; only ever append to it.
MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_migrate_to_v1, _migrate_to_v2)
SCHEMA_VERSION = len(MIGRATIONS)

# Explicit column lists, in dataclass order, so columns added by later migrations change nothing.
_CONVERSATION_COLUMNS = "id, title, model_id, system_prompt, created_at, updated_at, thinking"
_MESSAGE_COLUMNS = (
    "id, conversation_id, role, content, thinking, status, finish_reason, model_id, stats, "
    "created_at, updated_at"
)
_ATTACHMENT_COLUMNS = (
    "id, conversation_id, message_id, path, name, kind, content_hash, pages, token_count, text, "
    "warnings, created_at"
)


def _storage_error(exc: sqlite3.Error, path: Path) -> StorageError | None:
    """Translate an environment failure into a StorageError; None means it is a bug."""
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    if code in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
        return DamagedHistoryError(
            f"The history file {path} is damaged ({exc}).",
            hint="Restart Gemma Desktop: it moves the damaged file aside and starts a new history.",
        )
    if code == _SQLITE_FULL:
        return StorageError(
            f"The disk holding {path} is full; the last change was not saved.",
            hint="Free some disk space and try again.",
        )
    if code in (_SQLITE_READONLY, _SQLITE_PERM, _SQLITE_CANTOPEN):
        return StorageError(
            f"Cannot open or write the history file {path}: {exc}.",
            hint="Check the data folder's permissions or choose another folder with --basedir.",
        )
    if code == _SQLITE_IOERR:
        return StorageError(
            f"Reading or writing the history file {path} failed: {exc}.",
            hint="Check that the disk is connected and healthy, then try again.",
        )
    if code == _SQLITE_BUSY:
        return StorageError(
            f"The history file {path} is busy in another program.",
            hint="Close other Gemma Desktop windows and try again.",
        )
    return None


def _conversation(row: tuple[Any, ...]) -> Conversation:
    """Build a Conversation from a row of _CONVERSATION_COLUMNS."""
    conversation_id, title, model_id, system_prompt, created_at, updated_at, thinking = row
    return Conversation(
        conversation_id, title, model_id, system_prompt, created_at, updated_at,
        None if thinking is None else bool(thinking),
    )


def _title_from(text: str) -> str:
    """The first non-empty line, whitespace collapsed, cut to TITLE_MAX_CHARS on a word boundary."""
    line = next((ln for ln in text.splitlines() if ln.strip()), "")
    line = " ".join(line.split())
    if len(line) <= TITLE_MAX_CHARS:
        return line
    cut = line[: TITLE_MAX_CHARS - 1]
    space = cut.rfind(" ")
    # A single very long word is cut mid-word rather than leaving a tiny title.
    if space >= TITLE_MAX_CHARS // 2:
        cut = cut[:space]
    return cut.rstrip(" ,.;:-") + "…"


def _snippet(text: str, query: str, width: int = 40) -> str:
    """About `width` characters either side of the first match, on one line."""
    match = re.search(re.escape(query), text, re.IGNORECASE)
    start = match.start() if match else 0
    end = match.end() if match else 0
    lo, hi = max(0, start - width), min(len(text), end + width)
    body = " ".join(text[lo:hi].split())
    return ("…" if lo > 0 else "") + body + ("…" if hi < len(text) else "")


class HistoryStore:
    """Conversations, messages and attachments in one SQLite file.

    Thread-safe: one connection shared by all threads, every call serialised by an RLock.
    Every write commits before it returns, so a crash loses nothing already returned.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(
                f"Cannot create the folder {self.path.parent}: {exc.strerror or exc}.",
                hint="Choose another folder with --basedir or fix its permissions.",
            ) from exc
        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, one transaction per write.
            self._conn = sqlite3.connect(
                self.path, check_same_thread=False, isolation_level=None, timeout=10.0
            )
        except sqlite3.Error as exc:
            raise _storage_error(exc, self.path) or exc from exc
        try:
            with self._errors():
                self._setup()
        except BaseException:
            self._conn.close()
            raise

    @classmethod
    def open_or_recover(cls, path: Path) -> tuple[HistoryStore, StorageError | None]:
        """Open `path`; if it is damaged, move it aside, start a new one and return a warning."""
        path = Path(path)
        try:
            return cls(path), None
        except DamagedHistoryError:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            aside = path.with_name(f"{path.name}.damaged-{stamp}")
            counter = 1
            while aside.exists():
                counter += 1
                aside = path.with_name(f"{path.name}.damaged-{stamp}-{counter}")
            try:
                path.replace(aside)
                # Keep the WAL and shared-memory files with the copy they belong to; a new
                # database must not replay an old WAL.
                for suffix in ("-wal", "-shm", "-journal"):
                    side = path.with_name(path.name + suffix)
                    if side.exists():
                        side.replace(aside.with_name(aside.name + suffix))
            except OSError as exc:
                raise StorageError(
                    f"The history file {path} is damaged and cannot be moved aside: "
                    f"{exc.strerror or exc}.",
                    hint="Move or delete it by hand, then start Gemma Desktop again.",
                ) from exc
            warning = StorageError(
                "The history file was damaged and could not be read.",
                hint=f"It was moved aside to {aside.name} and a new, empty history was started.",
            )
            return cls(path), warning

    def _setup(self) -> None:
        """Check the file, refuse newer schemas, set pragmas and run pending migrations."""
        conn = self._conn
        # Reading the header first makes a non-database fail here, before anything is written.
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StorageError(
                f"The history file {self.path} was written by a newer version of Gemma Desktop "
                f"(schema {version}, this version knows {SCHEMA_VERSION}).",
                hint="Update Gemma Desktop to open it; the file was left untouched.",
            )
        # Pages damaged after the header only show up when read; find them now, where
        # open_or_recover can act, instead of in the middle of a chat (about 0.1 s per 40 MB).
        problems = conn.execute("PRAGMA quick_check").fetchall()
        if problems != [("ok",)]:
            raise DamagedHistoryError(
                f"The history file {self.path} is damaged ({problems[0][0]}).",
                hint="Restart Gemma Desktop: it moves the damaged file aside and starts a new "
                "history.",
            )
        conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives an app crash or kill; only a power cut can drop the
        # last commits, and FULL would fsync on every streamed update.
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        if version < SCHEMA_VERSION:
            with self._transaction():
                # Re-read under the write lock: another process may have migrated meanwhile.
                current = conn.execute("PRAGMA user_version").fetchone()[0]
                for migrate in MIGRATIONS[current:]:
                    migrate(conn)
                conn.execute(f"PRAGMA user_version = {max(current, SCHEMA_VERSION)}")

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Hold the lock and turn environment failures into StorageError."""
        with self._lock:
            try:
                yield
            except sqlite3.Error as exc:
                translated = _storage_error(exc, self.path)
                if translated is None:
                    raise
                raise translated from exc

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One committed write transaction; IMMEDIATE so a second process waits, not deadlocks."""
        with self._errors():
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.rollback()
                raise

    def close(self) -> None:
        """Close the connection; the store cannot be used afterwards."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # Conversations

    def create_conversation(
        self, title: str = DEFAULT_TITLE, model_id: str | None = None, system_prompt: str = ""
    ) -> Conversation:
        """Insert a conversation and return it."""
        now = time.time()
        with self._transaction() as conn:
            cur = conn.execute(
                "INSERT INTO conversations (title, model_id, system_prompt, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (title, model_id, system_prompt, now, now),
            )
        assert cur.lastrowid is not None
        return Conversation(cur.lastrowid, title, model_id, system_prompt, now, now)

    def list_conversations(self) -> list[Conversation]:
        """All conversations, most recently updated first."""
        with self._errors():
            rows = self._conn.execute(
                f"SELECT {_CONVERSATION_COLUMNS} FROM conversations"
                " ORDER BY updated_at DESC, id DESC"
            ).fetchall()
        return [_conversation(row) for row in rows]

    def get_conversation(self, conversation_id: int) -> Conversation:
        """The conversation with this id; LookupError if there is none."""
        with self._errors():
            row = self._conn.execute(
                f"SELECT {_CONVERSATION_COLUMNS} FROM conversations WHERE id = ?",
                (conversation_id,),
            ).fetchone()
        if row is None:
            raise LookupError(f"No conversation with id {conversation_id}")
        return _conversation(row)

    def rename_conversation(self, conversation_id: int, title: str) -> None:
        """Set a new title; an empty one is refused."""
        title = title.strip()
        if not title:
            raise UserError("A conversation needs a name.", hint="Type a name for it.")
        self._update_conversation(conversation_id, "title", title)

    def set_system_prompt(self, conversation_id: int, text: str) -> None:
        """Replace the conversation's system prompt."""
        self._update_conversation(conversation_id, "system_prompt", text)

    def set_model(self, conversation_id: int, model_id: str | None) -> None:
        """Remember which model the conversation uses."""
        self._update_conversation(conversation_id, "model_id", model_id)

    def set_thinking(self, conversation_id: int, thinking: bool | None) -> None:
        """Switch thinking on or off for this conversation (None: follow the default)."""
        self._update_conversation(
            conversation_id, "thinking", None if thinking is None else int(thinking)
        )

    def _update_conversation(
        self, conversation_id: int, column: str, value: str | int | None
    ) -> None:
        """Set one column of one conversation (column names come from this module only)."""
        with self._errors():
            cur = self._conn.execute(
                f"UPDATE conversations SET {column} = ? WHERE id = ?", (value, conversation_id)
            )
        if cur.rowcount == 0:
            raise LookupError(f"No conversation with id {conversation_id}")

    def delete_conversation(self, conversation_id: int) -> None:
        """Delete a conversation with its messages and attachments."""
        with self._errors():
            cur = self._conn.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))
        if cur.rowcount == 0:
            raise LookupError(f"No conversation with id {conversation_id}")

    def auto_title(self, conversation_id: int, first_user_text: str) -> str | None:
        """Title the conversation after the first user message if it still has the default."""
        title = _title_from(first_user_text)
        if not title:
            return None
        with self._errors():
            cur = self._conn.execute(
                "UPDATE conversations SET title = ? WHERE id = ? AND title = ?",
                (title, conversation_id, DEFAULT_TITLE),
            )
        return title if cur.rowcount else None

    # Messages

    def add_message(
        self,
        conversation_id: int,
        role: Role,
        content: str,
        *,
        status: MessageStatus = "done",
        model_id: str | None = None,
    ) -> Message:
        """Append a message and bump the conversation to the top of the list."""
        if role not in _ROLES or status not in _STATUSES:
            raise ValueError(f"bad role {role!r} or status {status!r}")
        now = time.time()
        with self._transaction() as conn:
            cur = conn.execute(
                "UPDATE conversations SET updated_at = ? WHERE id = ?", (now, conversation_id)
            )
            if cur.rowcount == 0:
                raise LookupError(f"No conversation with id {conversation_id}")
            cur = conn.execute(
                "INSERT INTO messages (conversation_id, role, content, status, model_id,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (conversation_id, role, content, status, model_id, now, now),
            )
        assert cur.lastrowid is not None
        return Message(
            cur.lastrowid, conversation_id, role, content, "", status, None, model_id, {}, now, now
        )

    def update_message(
        self,
        message_id: int,
        *,
        content: str | None = None,
        thinking: str | None = None,
        status: MessageStatus | None = None,
        finish_reason: str | None = None,
        stats: dict[str, Any] | None = None,
    ) -> None:
        """Change the given fields with one UPDATE; called many times while a reply streams."""
        if status is not None and status not in _STATUSES:
            raise ValueError(f"bad status {status!r}")
        fields: dict[str, object] = {
            "content": content,
            "thinking": thinking,
            "status": status,
            "finish_reason": finish_reason,
            "stats": None if stats is None else json.dumps(stats),
        }
        changes = {name: value for name, value in fields.items() if value is not None}
        changes["updated_at"] = time.time()
        assignments = ", ".join(f"{name} = ?" for name in changes)
        with self._errors():
            cur = self._conn.execute(
                f"UPDATE messages SET {assignments} WHERE id = ?", (*changes.values(), message_id)
            )
        if cur.rowcount == 0:
            raise LookupError(f"No message with id {message_id}")

    def get_message(self, message_id: int) -> Message:
        """The message with this id; LookupError if there is none."""
        with self._errors():
            row = self._conn.execute(
                f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE id = ?", (message_id,)
            ).fetchone()
        if row is None:
            raise LookupError(f"No message with id {message_id}")
        return self._message(row)

    def list_messages(self, conversation_id: int) -> list[Message]:
        """The conversation's messages in the order they were added."""
        with self._errors():
            rows = self._conn.execute(
                f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? ORDER BY id",
                (conversation_id,),
            ).fetchall()
        return [self._message(row) for row in rows]

    def delete_messages_from(self, message_id: int) -> int:
        """Delete this message and every later one in its conversation; return how many."""
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT conversation_id FROM messages WHERE id = ?", (message_id,)
            ).fetchone()
            if row is None:
                raise LookupError(f"No message with id {message_id}")
            cur = conn.execute(
                "DELETE FROM messages WHERE conversation_id = ? AND id >= ?", (row[0], message_id)
            )
            conn.execute(
                "UPDATE conversations SET updated_at = ? WHERE id = ?", (time.time(), row[0])
            )
        return cur.rowcount

    def mark_interrupted(self) -> int:
        """At start-up: replies left 'streaming' by a crash become 'stopped', text kept."""
        with self._errors():
            cur = self._conn.execute(
                "UPDATE messages SET status = 'stopped', finish_reason = 'interrupted',"
                " updated_at = ? WHERE status = 'streaming'",
                (time.time(),),
            )
        return cur.rowcount

    @staticmethod
    def _message(row: tuple[Any, ...]) -> Message:
        """Build a Message from a row of _MESSAGE_COLUMNS."""
        values = dict(zip(_MESSAGE_COLUMNS.split(", "), row, strict=True))
        values["stats"] = json.loads(values["stats"] or "{}")
        return Message(**values)

    # Attachments

    def add_attachment(
        self,
        conversation_id: int,
        message_id: int | None,
        *,
        path: str,
        name: str,
        kind: str,
        content_hash: str,
        pages: int | None,
        token_count: int,
        text: str,
        warnings: list[str],
    ) -> AttachmentRecord:
        """Record a document attached to a conversation (and to a message once it is sent)."""
        now = time.time()
        with self._transaction() as conn:
            cur = conn.execute(
                "INSERT INTO attachments (conversation_id, message_id, path, name, kind,"
                " content_hash, pages, token_count, text, warnings, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    conversation_id,
                    message_id,
                    path,
                    name,
                    kind,
                    content_hash,
                    pages,
                    token_count,
                    text,
                    json.dumps(warnings),
                    now,
                ),
            )
        assert cur.lastrowid is not None
        return AttachmentRecord(
            cur.lastrowid,
            conversation_id,
            message_id,
            path,
            name,
            kind,
            content_hash,
            pages,
            token_count,
            text,
            list(warnings),
            now,
        )

    def list_attachments(
        self, conversation_id: int, message_id: int | None = None
    ) -> list[AttachmentRecord]:
        """The conversation's attachments in order, or only one message's when it is given."""
        query = f"SELECT {_ATTACHMENT_COLUMNS} FROM attachments WHERE conversation_id = ?"
        params: tuple[int, ...] = (conversation_id,)
        if message_id is not None:
            query += " AND message_id = ?"
            params += (message_id,)
        with self._errors():
            rows = self._conn.execute(query + " ORDER BY id", params).fetchall()
        return [self._attachment(row) for row in rows]

    def attachments_by_message(self, conversation_id: int) -> dict[int, list[AttachmentRecord]]:
        """Attachments grouped by message id; ones not yet tied to a message are left out."""
        grouped: dict[int, list[AttachmentRecord]] = {}
        for record in self.list_attachments(conversation_id):
            if record.message_id is not None:
                grouped.setdefault(record.message_id, []).append(record)
        return grouped

    @staticmethod
    def _attachment(row: tuple[Any, ...]) -> AttachmentRecord:
        """Build an AttachmentRecord from a row of _ATTACHMENT_COLUMNS."""
        values = dict(zip(_ATTACHMENT_COLUMNS.split(", "), row, strict=True))
        values["warnings"] = json.loads(values["warnings"] or "[]")
        return AttachmentRecord(**values)

    # Search

    def search(self, query: str, limit: int = 200) -> list[SearchHit]:
        """Conversations whose title or messages contain `query`, newest conversations first."""
        query = query.strip()
        if not query:
            return []
        # SQLite's LIKE folds case for ASCII only; FTS5 can replace this later.
        columns = ", ".join(f"c.{name}" for name in _CONVERSATION_COLUMNS.split(", "))
        pattern = "%" + re.sub(r"([\\%_])", r"\\\1", query) + "%"
        with self._errors():
            rows = self._conn.execute(
                f"SELECT {_CONVERSATION_COLUMNS}, NULL, title FROM conversations"
                " WHERE title LIKE ?1 ESCAPE '\\'"
                " UNION ALL"
                f" SELECT {columns}, m.id, m.content FROM messages m"
                " JOIN conversations c ON c.id = m.conversation_id"
                " WHERE m.content LIKE ?1 ESCAPE '\\'"
                # Title hits (NULL message id) sort before message hits of the same chat.
                " ORDER BY 6 DESC, 1 DESC, 8 LIMIT ?2",
                (pattern, limit),
            ).fetchall()
        return [SearchHit(_conversation(row[:7]), row[7], _snippet(row[8], query)) for row in rows]
