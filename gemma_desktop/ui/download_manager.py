"""Model downloads on a worker thread, one at a time, reported to the GUI through signals."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from gemma_desktop.core.download import (
    DownloadCancelled,
    Progress,
    default_endpoint,
    safe_target,
)
from gemma_desktop.core.errors import UserError
from gemma_desktop.core.hub import download_from_hub

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 0.1  # about ten bar updates a second is smooth and cheap


@dataclass(frozen=True)
class _Request:
    """What start() was asked for, kept so resume() can ask again."""

    repo: str
    filename: str
    expected_size: int | None
    expected_sha256: str | None


def download_key(repo: str, filename: str) -> str:
    """The key a download is known by in the signals."""
    return f"{repo}/{filename}"


class DownloadManager(QObject):
    """Runs one download at a time on its own thread; the .part file makes pausing cheap.

    Threading: create and call from the GUI thread. The worker only emits private signals,
    which Qt queues to this object's thread, where they become the public signals below.
    A start() while another download runs pauses that one and starts when its worker ends.
    """

    progressed = Signal(str, object)  # key, core Progress
    finished = Signal(str, object)  # key, Path of the verified file
    failed = Signal(str, str)  # key, message with its hint
    paused = Signal(str)  # key; the .part file stays for resume()

    _worker_progress = Signal(str, object)
    _worker_ended = Signal(str, str, object)  # key, "finished" | "failed" | "paused", payload

    def __init__(self, models_dir: Path, endpoint: str | None = None,
                 token_source: Callable[[], str | None] = lambda: None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._models_dir = models_dir
        self._endpoint = endpoint
        self._token_source = token_source
        self._requests: dict[str, _Request] = {}
        self._thread: threading.Thread | None = None
        self._running: str | None = None
        self._cancel = threading.Event()
        self._next: str | None = None
        self._closed = False
        self._last_progress: dict[str, Progress] = {}
        self._worker_progress.connect(self._on_progress)
        self._worker_ended.connect(self._on_ended)

    def start(self, key: str, repo: str, filename: str, *, expected_size: int | None = None,
              expected_sha256: str | None = None) -> None:
        """Download repo/filename into the models folder (resuming a .part left there)."""
        if self._closed:
            raise RuntimeError("the download manager is shut down")
        self._requests[key] = _Request(repo, filename, expected_size, expected_sha256)
        if self._thread is None:
            self._launch(key)
            return
        if self._running == key and not self._cancel.is_set():
            return  # already downloading
        # The running worker stops at its next chunk; the queued key starts when it has ended.
        self._cancel.set()
        self._next = key

    def pause(self, key: str) -> None:
        """Stop a download, keeping its .part file; `paused` follows."""
        if self._next == key:
            self._next = None
            self.paused.emit(key)
        elif self._running == key:
            self._cancel.set()

    def resume(self, key: str) -> None:
        """Start a paused or failed download again with the arguments it was started with."""
        request = self._requests.get(key)
        if request is None:
            raise KeyError(key)
        self.start(key, request.repo, request.filename, expected_size=request.expected_size,
                   expected_sha256=request.expected_sha256)

    def active(self) -> str | None:
        """The key being downloaded (or about to be), if any."""
        if self._next is not None:
            return self._next
        if self._running is not None and not self._cancel.is_set():
            return self._running
        return None

    def last_progress(self, key: str) -> Progress | None:
        """The last progress reported for a key, so a window opened later can show it at once."""
        return self._last_progress.get(key)

    def shutdown(self) -> None:
        """Pause whatever runs and wait for the worker (when the window closes)."""
        self._closed = True
        self._next = None
        self._cancel.set()
        if self._thread is not None:
            self._thread.join()

    def _launch(self, key: str) -> None:
        request = self._requests[key]
        self._cancel = threading.Event()
        self._running = key
        endpoint = self._endpoint or default_endpoint()  # read now, so HF_ENDPOINT is honoured
        self._thread = threading.Thread(
            target=self._work, args=(key, request, endpoint, self._cancel),
            name="gd-download", daemon=True,
        )
        self._thread.start()

    def _work(self, key: str, request: _Request, endpoint: str,
              cancel: threading.Event) -> None:
        """The worker thread: download, then report how it ended."""
        last = 0.0

        def report(progress: Progress) -> None:
            nonlocal last
            now = time.monotonic()
            if now - last >= PROGRESS_INTERVAL_S or progress.done >= progress.total:
                last = now
                self._worker_progress.emit(key, progress)

        try:
            # The token source may read the system keyring, which can be slow: not the GUI's job.
            token = self._token_source()
            target = safe_target(self._models_dir, request.filename)
            path = download_from_hub(
                request.repo, request.filename, target, endpoint=endpoint, token=token,
                expected_sha256=request.expected_sha256, expected_size=request.expected_size,
                progress=report, cancel=cancel,
            )
        except DownloadCancelled:
            self._emit_ended(key, "paused", None)
        except UserError as exc:
            self._emit_ended(key, "failed", str(exc))
        except Exception as exc:  # a bug: logged, but the user still gets a way forward
            log.exception("download of %s failed", key)
            self._emit_ended(key, "failed", f"The download stopped unexpectedly ({exc}). "
                                            "Try again.")
        else:
            self._emit_ended(key, "finished", path)

    def _emit_ended(self, key: str, kind: str, payload: Any) -> None:
        try:
            self._worker_ended.emit(key, kind, payload)
        except RuntimeError:  # the manager is already gone at quit
            log.debug("download result after shutdown dropped")

    @Slot(str, object)
    def _on_progress(self, key: str, progress: Progress) -> None:
        if key == self._running and not self._cancel.is_set():
            self._last_progress[key] = progress
            self.progressed.emit(key, progress)

    @Slot(str, str, object)
    def _on_ended(self, key: str, kind: str, payload: Any) -> None:
        if self._thread is not None:
            self._thread.join()  # it has emitted its last signal, so this returns at once
        self._thread = None
        self._running = None
        queued, self._next = self._next, None
        if kind == "finished":
            if queued == key:
                queued = None  # it finished before the pause took hold: nothing to restart
            self.finished.emit(key, payload)
        elif kind == "failed":
            self.failed.emit(key, payload)
        elif queued != key:  # paused only to restart itself: no pause to report
            self.paused.emit(key)
        if queued is not None and not self._closed:
            self._launch(queued)
