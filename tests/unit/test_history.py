"""HistoryStore on real SQLite files: CRUD, crashes mid-stream, migrations, damage, threads."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gemma_desktop.core import history
from gemma_desktop.core.chat import Role
from gemma_desktop.core.errors import StorageError, UserError
from gemma_desktop.core.history import (
    DEFAULT_TITLE,
    AttachmentRecord,
    DamagedHistoryError,
    HistoryStore,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def db_path(basedir: Path) -> Path:
    """The database inside the fixture's "Daten März" folder (space and non-ASCII)."""
    return basedir / "history.sqlite3"


@pytest.fixture
def store(db_path: Path) -> Iterator[HistoryStore]:
    with HistoryStore(db_path) as opened:
        yield opened


def _attach(
    store: HistoryStore, conversation_id: int, message_id: int | None, name: str
) -> AttachmentRecord:
    return store.add_attachment(
        conversation_id,
        message_id,
        path=f"/docs/{name}",
        name=name,
        kind="pdf",
        content_hash="sha256:" + name,
        pages=3,
        token_count=120,
        text=f"[page 1] text of {name}",
        warnings=["page 2 has no text"],
    )


def _raw_count(path: Path, table: str) -> int:
    """Count rows through a separate connection, so the check does not trust the store."""
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()


# Opening, pragmas, schema


def test_new_file_gets_wal_foreign_keys_and_current_schema(db_path: Path) -> None:
    with HistoryStore(db_path) as store:
        conn = store._conn
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA user_version").fetchone()[0] == history.SCHEMA_VERSION == 2
        indexes = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert {"conversations", "messages", "attachments"} <= indexes
    assert {"messages_by_conversation", "attachments_by_message"} <= indexes
    assert db_path.parent.name == "Daten März"


def test_creates_missing_parent_folder(tmp_path: Path) -> None:
    path = tmp_path / "neu Ordner ü" / "history.sqlite3"
    with HistoryStore(path) as store:
        store.create_conversation()
    assert path.is_file()


def test_closed_store_refuses_use(db_path: Path) -> None:
    with HistoryStore(db_path) as store:
        pass
    with pytest.raises(sqlite3.ProgrammingError):
        store.list_conversations()


# Conversations


def test_conversation_crud(store: HistoryStore) -> None:
    conv = store.create_conversation(model_id="gemma-3-270m", system_prompt="Sei knapp.")
    assert conv.title == DEFAULT_TITLE
    assert store.get_conversation(conv.id) == conv

    store.rename_conversation(conv.id, "  Steuern 2025  ")
    store.set_system_prompt(conv.id, "Antworte auf Deutsch.")
    store.set_model(conv.id, "gemma-3-4b")
    got = store.get_conversation(conv.id)
    assert (got.title, got.system_prompt, got.model_id) == (
        "Steuern 2025",
        "Antworte auf Deutsch.",
        "gemma-3-4b",
    )

    store.delete_conversation(conv.id)
    assert store.list_conversations() == []
    with pytest.raises(LookupError):
        store.get_conversation(conv.id)


def test_rename_to_blank_is_a_user_error(store: HistoryStore) -> None:
    conv = store.create_conversation(title="Keep me")
    with pytest.raises(UserError, match="A conversation needs a name"):
        store.rename_conversation(conv.id, "   \n")
    assert store.get_conversation(conv.id).title == "Keep me"


def test_missing_ids_raise_lookup_error(store: HistoryStore) -> None:
    for call in (
        lambda: store.get_conversation(404),
        lambda: store.rename_conversation(404, "x"),
        lambda: store.set_system_prompt(404, "x"),
        lambda: store.set_model(404, "x"),
        lambda: store.delete_conversation(404),
        lambda: store.add_message(404, "user", "x"),
        lambda: store.get_message(404),
        lambda: store.update_message(404, content="x"),
        lambda: store.delete_messages_from(404),
    ):
        with pytest.raises(LookupError):
            call()


def test_conversations_listed_most_recently_updated_first(store: HistoryStore) -> None:
    a = store.create_conversation("A")
    b = store.create_conversation("B")
    c = store.create_conversation("C")
    assert [x.title for x in store.list_conversations()] == ["C", "B", "A"]
    store.add_message(a.id, "user", "bump")
    assert [x.title for x in store.list_conversations()] == ["A", "C", "B"]
    assert store.get_conversation(a.id).updated_at > a.updated_at
    assert {b.id, c.id} < {x.id for x in store.list_conversations()}


# Messages


def test_message_crud_and_order(store: HistoryStore) -> None:
    conv = store.create_conversation()
    user = store.add_message(conv.id, "user", "Hallo")
    reply = store.add_message(conv.id, "assistant", "", status="streaming", model_id="gemma")
    assert store.get_message(reply.id) == reply
    assert reply.status == "streaming" and reply.stats == {} and reply.thinking == ""

    stats = {
        "prompt_tokens": 12,
        "completion_tokens": 3,
        "ttft_s": 0.21,
        "decode_tokens_per_s": 41.5,
    }
    store.update_message(reply.id, thinking="Der Nutzer grüßt.")
    store.update_message(
        reply.id, content="Hallo!", status="done", finish_reason="stop", stats=stats
    )
    got = store.get_message(reply.id)
    assert (got.content, got.thinking, got.status, got.finish_reason, got.model_id) == (
        "Hallo!",
        "Der Nutzer grüßt.",
        "done",
        "stop",
        "gemma",
    )
    assert got.stats == stats
    assert got.updated_at >= reply.updated_at
    assert [m.id for m in store.list_messages(conv.id)] == [user.id, reply.id]


def test_bad_role_or_status_is_refused(store: HistoryStore) -> None:
    conv = store.create_conversation()
    with pytest.raises(ValueError):
        store.add_message(conv.id, "tool", "x")  # type: ignore[arg-type]
    msg = store.add_message(conv.id, "user", "x")
    with pytest.raises(ValueError):
        store.update_message(msg.id, status="weird")  # type: ignore[arg-type]


def test_delete_messages_from_drops_later_turns_and_their_attachments(
    store: HistoryStore, db_path: Path
) -> None:
    conv = store.create_conversation()
    other = store.create_conversation()
    roles: list[Role] = ["user", "assistant"] * 3
    ids = [store.add_message(conv.id, role, f"m{i}").id for i, role in enumerate(roles)]
    keep_other = store.add_message(other.id, "user", "elsewhere")
    early = _attach(store, conv.id, ids[0], "early.pdf")
    _attach(store, conv.id, ids[2], "late.pdf")
    draft = _attach(store, conv.id, None, "draft.pdf")

    assert store.delete_messages_from(ids[2]) == 4
    assert [m.id for m in store.list_messages(conv.id)] == ids[:2]
    assert store.list_messages(other.id) == [store.get_message(keep_other.id)]
    assert store.list_attachments(conv.id) == [early, draft]
    assert _raw_count(db_path, "attachments") == 2


# Attachments


def test_attachment_crud_and_grouping(store: HistoryStore) -> None:
    conv = store.create_conversation()
    m1 = store.add_message(conv.id, "user", "Lies das")
    m2 = store.add_message(conv.id, "user", "Und das")
    a = _attach(store, conv.id, m1.id, "Bericht März.pdf")
    b = _attach(store, conv.id, m1.id, "b.txt")
    c = _attach(store, conv.id, m2.id, "c.txt")
    loose = _attach(store, conv.id, None, "noch nicht gesendet.pdf")

    assert a.warnings == ["page 2 has no text"] and a.pages == 3 and a.message_id == m1.id
    assert store.list_attachments(conv.id) == [a, b, c, loose]
    assert store.list_attachments(conv.id, m1.id) == [a, b]
    assert store.attachments_by_message(conv.id) == {m1.id: [a, b], m2.id: [c]}
    assert store.list_attachments(store.create_conversation().id) == []


def test_delete_conversation_cascades(store: HistoryStore, db_path: Path) -> None:
    conv = store.create_conversation()
    keep = store.create_conversation()
    msg = store.add_message(conv.id, "user", "x")
    _attach(store, conv.id, msg.id, "a.pdf")
    _attach(store, conv.id, None, "b.pdf")
    store.add_message(keep.id, "user", "y")

    store.delete_conversation(conv.id)
    assert _raw_count(db_path, "messages") == 1
    assert _raw_count(db_path, "attachments") == 0
    assert [c.id for c in store.list_conversations()] == [keep.id]


# Crashes and restarts

_CHILD = """
import sys
from pathlib import Path
from gemma_desktop.core.history import HistoryStore

store = HistoryStore(Path(sys.argv[1]))
conv = store.create_conversation()
store.add_message(conv.id, "user", "Erzähl mir was")
reply = store.add_message(conv.id, "assistant", "", status="streaming")
text = ""
for i in range(1_000_000):
    text += f"wort{i} "
    store.update_message(reply.id, content=text)
    print(i, flush=True)
"""


def test_reply_survives_sigkill_mid_stream(db_path: Path) -> None:
    with subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(db_path)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as child:
        assert child.stdout is not None and child.stderr is not None
        for line in child.stdout:
            if int(line) >= 199:
                break
        else:
            pytest.fail(f"child ended early: {child.stderr.read()}")
        # SIGKILL: no cleanup, no close; the OS drops the process mid-write.
        os.kill(child.pid, getattr(signal, "SIGKILL", signal.SIGTERM))
        child.wait(timeout=30)

    with HistoryStore(db_path) as store:
        [conv] = store.list_conversations()
        user, reply = store.list_messages(conv.id)
        assert user.content == "Erzähl mir was"
        assert reply.status == "streaming"
        words = reply.content.split()
        # Every update the child reported is there, in order, and nothing is garbled.
        assert len(words) >= 200
        assert words == [f"wort{i}" for i in range(len(words))]

        assert store.mark_interrupted() == 1
        stopped = store.get_message(reply.id)
        assert (stopped.status, stopped.finish_reason) == ("stopped", "interrupted")
        assert stopped.content == reply.content
        assert store.mark_interrupted() == 0


def test_close_mid_stream_keeps_last_text_and_restart_shows_everything(db_path: Path) -> None:
    store = HistoryStore(db_path)
    conv = store.create_conversation(model_id="gemma", system_prompt="Sei nett.")
    store.add_message(conv.id, "user", "Frage")
    reply = store.add_message(conv.id, "assistant", "", status="streaming")
    text = ""
    for i in range(200):
        text += f"t{i} "
        store.update_message(reply.id, content=text, thinking=f"denke {i}")
    _attach(store, conv.id, None, "a.pdf")
    done = store.create_conversation("Fertig")
    store.add_message(done.id, "user", "hi")
    conversations = store.list_conversations()
    attachments = store.list_attachments(conv.id)
    # The "crash": the store is dropped without finishing the reply.
    store.close()

    with HistoryStore(db_path) as reopened:
        assert reopened.list_conversations() == conversations
        assert reopened.list_attachments(conv.id) == attachments
        streamed = reopened.get_message(reply.id)
        assert (streamed.content, streamed.thinking) == (text, "denke 199")
        assert reopened.mark_interrupted() == 1
        assert reopened.get_message(reply.id).status == "stopped"
        assert reopened.list_messages(done.id)[0].content == "hi"


# Migrations


def test_empty_file_and_v0_database_are_migrated(tmp_path: Path) -> None:
    empty = tmp_path / "empty.sqlite3"
    empty.touch()
    v0 = tmp_path / "v0.sqlite3"
    conn = sqlite3.connect(v0)
    conn.execute("CREATE TABLE unrelated (x)")
    conn.commit()
    conn.close()
    for path in (empty, v0):
        with HistoryStore(path) as store:
            assert store._conn.execute("PRAGMA user_version").fetchone()[0] == 2
            store.add_message(store.create_conversation().id, "user", "ok")


def test_newer_schema_is_refused_and_left_untouched(db_path: Path) -> None:
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TABLE future (x)")
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()
    before = db_path.read_bytes()

    with pytest.raises(StorageError, match="newer version") as caught:
        HistoryStore(db_path)
    assert not isinstance(caught.value, DamagedHistoryError)
    assert "Update Gemma Desktop" in caught.value.hint
    # open_or_recover must not move a healthy newer file aside.
    with pytest.raises(StorageError, match="newer version"):
        HistoryStore.open_or_recover(db_path)
    assert db_path.read_bytes() == before
    assert list(db_path.parent.glob("*.damaged-*")) == []


def test_later_migration_adds_a_column_and_keeps_data(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with HistoryStore(db_path) as store:
        conv = store.create_conversation("Alt")
        msg = store.add_message(conv.id, "user", "bleibt")

    def add_pinned(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE conversations ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0")

    monkeypatch.setattr(history, "MIGRATIONS", (*history.MIGRATIONS, add_pinned))
    monkeypatch.setattr(history, "SCHEMA_VERSION", 3)
    with HistoryStore(db_path) as store:
        assert store._conn.execute("PRAGMA user_version").fetchone()[0] == 3
        assert store.get_conversation(conv.id).title == "Alt"
        assert store.get_message(msg.id).content == "bleibt"
        assert store._conn.execute("SELECT pinned FROM conversations").fetchone()[0] == 0


def test_failed_migration_rolls_back(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with HistoryStore(db_path) as store:
        store.create_conversation("Alt")

    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE conversations ADD COLUMN half INTEGER")
        raise RuntimeError("bug in migration")

    monkeypatch.setattr(history, "MIGRATIONS", (*history.MIGRATIONS, broken))
    monkeypatch.setattr(history, "SCHEMA_VERSION", 3)
    with pytest.raises(RuntimeError):
        HistoryStore(db_path)
    monkeypatch.undo()
    with HistoryStore(db_path) as store:
        assert store._conn.execute("PRAGMA user_version").fetchone()[0] == 2
        columns = [row[1] for row in store._conn.execute("PRAGMA table_info(conversations)")]
        assert "half" not in columns
        assert [c.title for c in store.list_conversations()] == ["Alt"]


# Damage and environment failures


def test_random_bytes_are_moved_aside_and_a_new_history_started(db_path: Path) -> None:
    garbage = os.urandom(8192)
    db_path.write_bytes(garbage)
    with pytest.raises(StorageError, match="damaged"):
        HistoryStore(db_path)

    store, warning = HistoryStore.open_or_recover(db_path)
    with store:
        assert store.list_conversations() == []
        store.create_conversation()
    assert warning is not None and "damaged" in warning.message
    [aside] = db_path.parent.glob("history.sqlite3.damaged-*")
    assert aside.name in warning.hint and "new" in warning.hint
    assert re.fullmatch(r"history\.sqlite3\.damaged-\d{8}-\d{6}", aside.name)
    assert aside.read_bytes() == garbage

    # A healthy file opens without a warning.
    store, warning = HistoryStore.open_or_recover(db_path)
    store.close()
    assert warning is None


def test_damaged_pages_after_a_good_header_are_found_at_open(db_path: Path) -> None:
    with HistoryStore(db_path) as store:
        conv = store.create_conversation()
        for i in range(50):
            store.add_message(conv.id, "user", f"{i} " + "x" * 2000)
        store._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(db_path.read_bytes())
    page = 4096
    data[page : len(data)] = os.urandom(len(data) - page)
    db_path.write_bytes(bytes(data))

    with pytest.raises(DamagedHistoryError):
        HistoryStore(db_path)
    store, warning = HistoryStore.open_or_recover(db_path)
    store.close()
    assert warning is not None


def test_disk_full_is_a_clear_storage_error(store: HistoryStore) -> None:
    conv = store.create_conversation()
    kept = store.add_message(conv.id, "user", "vorher")
    pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
    # max_page_count makes SQLite report SQLITE_FULL exactly as a full disk does.
    store._conn.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(StorageError, match="full") as caught:
        store.add_message(conv.id, "user", "x" * 200_000)
    assert "Free some disk space" in caught.value.hint
    store._conn.execute("PRAGMA max_page_count = 1073741823")
    assert store.list_messages(conv.id) == [kept]
    store.add_message(conv.id, "user", "danach")


def test_read_only_database_is_a_clear_storage_error(store: HistoryStore) -> None:
    conv = store.create_conversation()
    # query_only makes SQLite answer SQLITE_READONLY, as for a read-only file (works as root too).
    store._conn.execute("PRAGMA query_only = ON")
    with pytest.raises(StorageError, match="Cannot open or write"):
        store.rename_conversation(conv.id, "neu")
    with pytest.raises(StorageError, match="Cannot open or write"):
        store.add_message(conv.id, "user", "x")
    store._conn.execute("PRAGMA query_only = OFF")
    assert store.get_conversation(conv.id).title == DEFAULT_TITLE


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root ignores modes")
def test_read_only_file_cannot_be_opened(db_path: Path) -> None:
    HistoryStore(db_path).close()
    for leftover in db_path.parent.glob("history.sqlite3-*"):
        leftover.unlink()
    db_path.chmod(0o444)
    db_path.parent.chmod(0o555)
    try:
        with pytest.raises(StorageError):
            HistoryStore(db_path)
    finally:
        db_path.parent.chmod(0o755)
        db_path.chmod(0o644)


def test_folder_in_place_of_the_file_is_a_storage_error(db_path: Path) -> None:
    db_path.mkdir()
    with pytest.raises(StorageError):
        HistoryStore(db_path)


# Threads and speed


def test_concurrent_writes_from_four_threads(store: HistoryStore, db_path: Path) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def work(n: int) -> None:
        try:
            start.wait()
            conv = store.create_conversation(f"Thread {n}")
            for i in range(50):
                msg = store.add_message(conv.id, "assistant", "", status="streaming")
                store.update_message(msg.id, content=f"{n}-{i}", status="done")
                store.list_conversations()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert _raw_count(db_path, "messages") == 200
    for conv in store.list_conversations():
        n = conv.title.split()[1]
        assert [m.content for m in store.list_messages(conv.id)] == [f"{n}-{i}" for i in range(50)]


def test_two_stores_on_one_file_do_not_lock_each_other(db_path: Path) -> None:
    errors: list[BaseException] = []

    def work(store: HistoryStore) -> None:
        try:
            conv = store.create_conversation()
            for i in range(100):
                store.add_message(conv.id, "user", str(i))
        except BaseException as exc:
            errors.append(exc)

    with HistoryStore(db_path) as first, HistoryStore(db_path) as second:
        threads = [threading.Thread(target=work, args=(s,)) for s in (first, second, first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert errors == []
    assert _raw_count(db_path, "messages") == 400


def test_ten_thousand_stream_updates_are_cheap(store: HistoryStore) -> None:
    conv = store.create_conversation()
    reply = store.add_message(conv.id, "assistant", "", status="streaming")
    text = ""
    began = time.perf_counter()
    for _ in range(10_000):
        text += "ä"
        store.update_message(reply.id, content=text)
    elapsed = time.perf_counter() - began
    assert store.get_message(reply.id).content == "ä" * 10_000
    assert elapsed < 10, f"10,000 updates took {elapsed:.1f} s"


# Text


def test_non_ascii_text_round_trips(store: HistoryStore) -> None:
    samples = [
        "Grüße aus München — “quotes”",
        "日本語のテキスト",
        "مرحبا",
        "emoji 🦙🧪",
        "tab\tand\nnewline",
    ]
    conv = store.create_conversation(title=samples[0], system_prompt=samples[1])
    for sample in samples:
        msg = store.add_message(conv.id, "user", sample)
        store.update_message(msg.id, thinking=sample[::-1], stats={"note": sample})
        got = store.get_message(msg.id)
        assert (got.content, got.thinking, got.stats) == (sample, sample[::-1], {"note": sample})
    assert store.get_conversation(conv.id).system_prompt == samples[1]


def test_auto_title(store: HistoryStore) -> None:
    conv = store.create_conversation()
    assert store.auto_title(conv.id, "\n\n  Wie   viel kostet\tdas?  \nZweite Zeile") == (
        "Wie viel kostet das?"
    )
    assert store.get_conversation(conv.id).title == "Wie viel kostet das?"
    # Only a default title is replaced.
    assert store.auto_title(conv.id, "Something else") is None
    assert store.get_conversation(conv.id).title == "Wie viel kostet das?"

    long_text = (
        "Bitte fasse den beigefügten Quartalsbericht über die Umsätze in Süddeutschland zusammen"
    )
    other = store.create_conversation()
    title = store.auto_title(other.id, long_text)
    assert title is not None and title.endswith("…") and len(title) <= 48
    assert long_text.startswith(title[:-1])
    assert long_text[len(title) - 1] == " "  # cut on a word boundary

    word = store.create_conversation()
    assert store.auto_title(word.id, "x" * 100) == "x" * 47 + "…"
    blank = store.create_conversation()
    assert store.auto_title(blank.id, "   \n ") is None
    assert store.get_conversation(blank.id).title == DEFAULT_TITLE


def test_search(store: HistoryStore) -> None:
    taxes = store.create_conversation("Steuern")
    store.add_message(taxes.id, "user", "Wie hoch ist die Umsatzsteuer in Deutschland?")
    answer = store.add_message(
        taxes.id, "assistant", "Die Umsatzsteuer beträgt 19 %, ermäßigt 7 %. " + "Mehr dazu. " * 20
    )
    code = store.create_conversation("Python")
    store.add_message(code.id, "user", "rename my_var to snake_case")

    hits = store.search("ermäßigt")
    assert [(h.conversation.id, h.message_id) for h in hits] == [(taxes.id, answer.id)]
    assert "ermäßigt" in hits[0].snippet and hits[0].snippet.endswith("…")

    # ASCII matches ignore case; titles match too and come first within a conversation.
    hits = store.search("steuer")
    assert [h.conversation.id for h in hits] == [taxes.id] * 3
    assert hits[0].message_id is None and hits[0].snippet == "Steuern"

    # LIKE wildcards in the query are literal.
    assert store.search("%") != [] and all("%" in h.snippet for h in store.search("%"))
    assert [h.conversation.id for h in store.search("my_var")] == [code.id]
    assert store.search("my%var") == []
    assert store.search("   ") == []
    assert store.search("nirgends") == []


def test_ids_are_never_reused_after_regenerate(tmp_path: Path) -> None:
    """A regenerated reply must not take the deleted reply's id (widgets key on ids)."""
    with HistoryStore(tmp_path / "h.sqlite3") as store:
        conv = store.create_conversation()
        store.add_message(conv.id, "user", "q")
        old = store.add_message(conv.id, "assistant", "a")
        store.delete_messages_from(old.id)
        new = store.add_message(conv.id, "assistant", "b")
        assert new.id > old.id


def test_v1_database_gains_a_thinking_switch_per_conversation(db_path: Path) -> None:
    conn = sqlite3.connect(db_path)
    history._migrate_to_v1(conn)
    conn.execute("PRAGMA user_version = 1")
    conn.execute(
        "INSERT INTO conversations (title, created_at, updated_at) VALUES ('Alt', 1, 1)"
    )
    conn.commit()
    conn.close()
    with HistoryStore(db_path) as store:
        old = store.list_conversations()[0]
        assert (old.title, old.thinking) == ("Alt", None)
        store.set_thinking(old.id, True)
        assert store.get_conversation(old.id).thinking is True
        store.set_thinking(old.id, False)
        assert store.get_conversation(old.id).thinking is False
        store.set_thinking(old.id, None)
        assert store.get_conversation(old.id).thinking is None
        store.set_thinking(old.id, True)
        store.add_message(old.id, "user", "findme")
        hit = store.search("findme")[0]
        assert hit.conversation.thinking is True and hit.message_id is not None
    with HistoryStore(db_path) as store, pytest.raises(LookupError):
        store.set_thinking(9999, True)
