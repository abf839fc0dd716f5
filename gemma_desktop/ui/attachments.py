"""Pending attachments: read documents in a worker, count their tokens, ask for passwords."""

from __future__ import annotations

import hashlib
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from PySide6.QtCore import QObject, Signal

from gemma_desktop.core.conversation import TurnAttachment
from gemma_desktop.core.errors import NoModelLoadedError, PasswordRequiredError, UserError
from gemma_desktop.ui.workers import TaskRunner

PASSWORD_NEEDED = "Password needed: not read. Add the file again to enter the password."
State = Literal["reading", "counting", "ready", "failed"]
# Asks the user for a PDF's password: (file name, last one was wrong) -> password or None.
PasswordPrompt = Callable[[str, bool], "str | None"]


@dataclass
class PendingAttachment:
    """A document dropped or chosen for the next message, in one of four states."""

    key: int
    path: Path
    name: str
    state: State = "reading"
    document: Any = None  # core.documents.model.Document once read
    tokens: int | None = None
    error: str = ""
    hint: str = ""  # what the user can do about the error (shown in the chip's tooltip)
    progress: tuple[int, int] = (0, 0)
    file_hash: str = ""  # sha256 of the file's bytes: the same file under another name
    needs_password: bool = False  # failed because the password prompt was cancelled
    cancel: threading.Event = field(default_factory=threading.Event)
    job: int = 0  # the DocumentReader job reading it

    @property
    def detail(self) -> str:
        """The chip's second line: '12 pages · 8,431 tokens', 'Reading…' or the error."""
        if self.state == "failed":
            return self.error
        if self.state == "reading":
            done, total = self.progress
            return f"Reading… page {done} of {total}" if total else "Reading…"
        parts = []
        if self.document is not None and self.document.pages:
            pages = self.document.pages
            parts.append(f"{pages} page" + ("" if pages == 1 else "s"))
        if self.tokens is None:
            parts.append("counting tokens…" if self.state == "counting" else "tokens pending")
        else:
            parts.append(f"{self.tokens:,} tokens")
        return " · ".join(parts)

    def as_turn(self) -> TurnAttachment:
        """What the prompt builder needs of this attachment."""
        doc = self.document
        return TurnAttachment(doc.name, doc.kind, doc.pages, doc.text, self.tokens or 0)


class AttachmentManager(QObject):
    """Owns the pending attachments of the composer; reading and counting run off the GUI thread.

    Threading: GUI thread only; documents are read on the TaskRunner's pool, tokens counted
    on the engine thread; results come back through the runner's queued delivery.
    A file already attached (the same path, or the same bytes under another name) is not
    added twice: `duplicate_found` names the existing item so its chip can flash.

    Signals: `changed()` whenever the list or any item's state changes,
    `duplicate_found(int)` with the key of the item a new file duplicated.
    """

    changed = Signal()
    duplicate_found = Signal(int)

    def __init__(self, runner: TaskRunner, engine: Any, ask_password: PasswordPrompt,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        from gemma_desktop.core.documents.isolated import DocumentReader

        # A helper process: PyMuPDF holds the GIL per page, which a thread cannot hide.
        self._reader = DocumentReader()
        self._runner = runner
        self._engine = engine
        self._ask_password = ask_password
        self._items: list[PendingAttachment] = []
        # Each conversation has its own pending attachments; `_items` is the shown one's.
        self._owner: Any = None
        self._drafts: dict[Any, list[PendingAttachment]] = {}
        self._keys = itertools.count(1)

    @property
    def items(self) -> list[PendingAttachment]:
        """All pending items in the order they were added."""
        return list(self._items)

    def ready(self) -> list[PendingAttachment]:
        """Items that would be sent with the next message."""
        return [i for i in self._items if i.state == "ready" and i.tokens is not None]

    @property
    def owner(self) -> Any:
        """The conversation whose attachments are shown (None before the first switch)."""
        return self._owner

    def switch_to(self, owner: Any) -> None:
        """Keep the shown items for their conversation and show `owner`'s own items.

        Items of a conversation not shown keep reading in the background.
        """
        if owner == self._owner:
            return
        if self._items:
            self._drafts[self._owner] = self._items
        self._items = self._drafts.pop(owner, [])
        self._owner = owner
        self.changed.emit()

    def forget(self, owner: Any) -> None:
        """Drop a conversation's items (it was deleted), cancelling their reading."""
        items = self._items if owner == self._owner else self._drafts.pop(owner, [])
        for item in items:
            self._cancel(item)
        if owner == self._owner:
            self._items = []
            self._owner = None
            self.changed.emit()

    def _all(self) -> list[PendingAttachment]:
        return self._items + [i for items in self._drafts.values() for i in items]

    def _known(self, item: PendingAttachment) -> bool:
        return any(i is item for i in self._all())

    def _list_of(self, item: PendingAttachment) -> list[PendingAttachment]:
        if any(i is item for i in self._items):
            return self._items
        return next((items for items in self._drafts.values() if any(i is item for i in items)),
                    [])

    def _changed_for(self, item: PendingAttachment) -> None:
        """Tell the view, when the item belongs to the conversation shown."""
        if any(i is item for i in self._items):
            self.changed.emit()

    def _cancel(self, item: PendingAttachment) -> None:
        item.cancel.set()
        if item.job:
            self._reader.cancel(item.job)

    @property
    def busy(self) -> bool:
        """True while any document is still being read or counted."""
        return any(i.state in ("reading", "counting") for i in self._items)

    def add_files(self, paths: list[Path]) -> None:
        """Start reading each file; a chip appears at once in the 'Reading…' state."""
        added = False
        for path in paths:
            path = _normalized(Path(path))
            existing = next((i for i in self._items if i.path == path), None)
            if existing is not None and existing.needs_password:
                self._retry(existing)  # added again to enter the password this time
                continue
            if existing is not None:
                self.duplicate_found.emit(existing.key)
                continue
            item = PendingAttachment(next(self._keys), path, path.name)
            self._items.append(item)
            added = True
            self._runner.run(_file_hash, path, item.cancel.is_set,
                             on_done=lambda digest, item=item: self._on_hashed(item, digest),
                             on_error=lambda _exc, item=item: self._read(item, None))
        if added:
            self.changed.emit()

    def remove(self, key: int) -> None:
        """Drop an item (cancelling its extraction)."""
        for item in self._items:
            if item.key == key:
                self._cancel(item)
        self._items = [i for i in self._items if i.key != key]
        self.changed.emit()

    def take_ready(self) -> list[PendingAttachment]:
        """Remove and return the ready items (they were just sent)."""
        return self.take(self.ready())

    def take(self, items: list[PendingAttachment]) -> list[PendingAttachment]:
        """Remove these items from whichever conversation holds them (they were sent)."""
        keys = {i.key for i in items}
        self._items = [i for i in self._items if i.key not in keys]
        for owner, pending in list(self._drafts.items()):
            self._drafts[owner] = [i for i in pending if i.key not in keys]
        self.changed.emit()
        return list(items)

    def take_failed(self, owner: Any) -> list[PendingAttachment]:
        """Remove and return the failed items of a conversation (after a send without them)."""
        pending = self._items if owner == self._owner else self._drafts.get(owner, [])
        failed = [i for i in pending if i.state == "failed"]
        return self.take(failed) if failed else []

    def restore(self, items: list[PendingAttachment], owner: Any = None) -> None:
        """Put items back into a conversation (a send that could not be stored)."""
        if owner is None or owner == self._owner:
            self._items = items + [i for i in self._items if i not in items]
            self.changed.emit()
        else:
            pending = self._drafts.get(owner, [])
            self._drafts[owner] = items + [i for i in pending if i not in items]

    def recount(self) -> None:
        """Count tokens again for items read before a model was loaded."""
        for item in self._all():
            if item.state == "ready" and item.tokens is None:
                self._count(item)

    # ----- work ------------------------------------------------------------------------------

    def _retry(self, item: PendingAttachment) -> None:
        item.state, item.error, item.hint, item.needs_password = "reading", "", "", False
        self.changed.emit()
        self._read(item, None)

    def _on_hashed(self, item: PendingAttachment, digest: str) -> None:
        if not self._known(item):
            return
        pending = self._list_of(item)
        twin = next((i for i in pending
                     if digest and i is not item and i.file_hash == digest), None)
        if twin is not None:
            pending.remove(item)
            self.changed.emit()
            if pending is self._items:
                self.duplicate_found.emit(twin.key)
            return
        item.file_hash = digest
        self._read(item, None)  # unreadable files get their clear error from the reader

    def _read(self, item: PendingAttachment, password: str | None) -> None:
        def progress(done: int, total: int) -> None:
            item.progress = (done, total)  # read by the GUI thread on the next change

        item.job, future = self._reader.read(item.path, password, progress=progress)
        self._runner.watch(
            future,
            on_done=lambda doc: self._on_read(item, doc),
            on_error=lambda exc: self._on_read_failed(item, exc),
        )

    def shutdown(self) -> None:
        """Cancel reading and stop the helper process."""
        for item in self._all():
            item.cancel.set()
        self._reader.shutdown()

    def _on_read(self, item: PendingAttachment, document: Any) -> None:
        if not self._known(item):
            return
        item.document = document
        item.state = "counting"
        self._changed_for(item)
        self._count(item)

    def _on_read_failed(self, item: PendingAttachment, exc: BaseException) -> None:
        if not self._known(item):
            return
        if isinstance(exc, PasswordRequiredError):
            password = self._ask_password(item.name, exc.wrong)
            if password:
                self._read(item, password)
                return
            item.needs_password = True
            self._fail(item, PASSWORD_NEEDED, exc.hint)
            return
        if isinstance(exc, UserError):
            self._fail(item, exc.message, exc.hint)
            return
        self._fail(item, f"Unexpected error: {exc}")
        self._runner.task_failed.emit(exc)

    def _count(self, item: PendingAttachment) -> None:
        item.state = "counting"
        try:
            future = self._engine.count_tokens(item.document.text)
        except RuntimeError as exc:  # the engine is shutting down
            self._fail(item, str(exc))
            return
        self._runner.watch(
            future,
            on_done=lambda n: self._on_counted(item, n),
            on_error=lambda exc: self._on_count_failed(item, exc),
        )

    def _on_counted(self, item: PendingAttachment, tokens: int) -> None:
        if self._known(item):
            item.tokens = int(tokens)
            item.state = "ready"
            self._changed_for(item)

    def _on_count_failed(self, item: PendingAttachment, exc: BaseException) -> None:
        if not self._known(item):
            return
        if isinstance(exc, NoModelLoadedError):
            item.state = "ready"  # counted by recount() once a model is loaded
            self._changed_for(item)
            return
        self._fail(item, str(exc))

    def _fail(self, item: PendingAttachment, message: str, hint: str = "") -> None:
        item.state = "failed"
        item.error = message
        item.hint = hint
        self._changed_for(item)


def _normalized(path: Path) -> Path:
    """An absolute path without '..' or symlinks, so one file has one name."""
    try:
        return path.expanduser().resolve()
    except (OSError, RuntimeError):
        return path.absolute()


def _file_hash(path: Path, cancelled: Callable[[], bool]) -> str:
    """sha256 of a file's bytes (worker thread); '' when it cannot be read or was removed."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                if cancelled():
                    return ""
                digest.update(chunk)
    except OSError:
        return ""
    return digest.hexdigest()
