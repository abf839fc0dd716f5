"""Read documents in a helper process, so PyMuPDF neither holds our GIL nor can crash the app.

PyMuPDF keeps the GIL for the whole of a page's text extraction (40 ms on one page of the
117-page fixture), which stalls the window's thread however the work is threaded. A separate
process has its own GIL, and a PDF that crashes MuPDF takes down only that process.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from gemma_desktop.core.documents.model import Document, ExtractionCancelled
from gemma_desktop.core.errors import DocumentError

ProgressCallback = Callable[[int, int], None]
log = logging.getLogger(__name__)
# Any job id: cancels whatever the helper is reading (used when shutting down).
_ALL_JOBS = -1

# Set in the helper process by _init_worker.
_progress_queue: Any = None
_cancelled_job: Any = None


def _init_worker(progress_queue: Any, cancelled_job: Any) -> None:
    global _progress_queue, _cancelled_job
    _progress_queue = progress_queue
    _cancelled_job = cancelled_job
    parent = os.getppid()

    def exit_with_parent() -> None:
        # If the app dies without shutting us down (crash, kill), do not linger.
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=exit_with_parent, name="parent-watch", daemon=True).start()


def _read_in_worker(job: int, path: str, password: str | None) -> Document:
    from gemma_desktop.core.documents.loader import load_document

    def progress(done: int, total: int) -> None:
        _progress_queue.put((job, done, total))

    def cancel() -> bool:
        return _cancelled_job.value in (job, _ALL_JOBS)

    return load_document(Path(path), password, cancel=cancel, progress=progress)


class DocumentReader:
    """Reads documents one at a time in a helper process; thread-safe.

    `read()` returns a Future; progress callbacks run on a private relay thread. The helper
    process starts on first use and is replaced if it dies.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._context = multiprocessing.get_context("spawn")
        self._pool: ProcessPoolExecutor | None = None
        self._queue: Any = None
        self._cancelled: Any = None
        self._relay: threading.Thread | None = None
        self._callbacks: dict[int, ProgressCallback] = {}
        self._finishers: dict[int, Callable[[], None]] = {}
        self._jobs = itertools.count(1)

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # SimpleQueue writes synchronously: a job's progress is in the pipe before its result.
            self._queue = self._context.SimpleQueue()
            self._cancelled = self._context.Value("q", 0)
            self._pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=self._context,
                initializer=_init_worker,
                initargs=(self._queue, self._cancelled),
            )
            self._relay = threading.Thread(
                target=self._relay_progress,
                args=(self._queue,),
                name="document-progress",
                daemon=True,
            )
            self._relay.start()
        return self._pool

    def _relay_progress(self, queue: Any) -> None:
        while True:
            item = queue.get()
            if item is None:
                return
            try:
                if item[0] == "done":
                    self._callbacks.pop(item[1], None)
                    finish = self._finishers.pop(item[1], None)
                    if finish is not None:
                        finish()
                    continue
                job, done, total = item
                callback = self._callbacks.get(job)
                if callback is not None:
                    callback(done, total)
            except Exception:  # one bad callback must not stop every later read
                log.exception("document progress callback failed")

    def read(
        self,
        path: Path,
        password: str | None = None,
        *,
        progress: ProgressCallback | None = None,
    ) -> tuple[int, Future[Document]]:
        """Start reading `path`; returns the job id (for cancel) and a Future of the Document."""
        with self._lock:
            job = next(self._jobs)
            if progress is not None:
                self._callbacks[job] = progress
        outer: Future[Document] = Future()
        # Running from the start: callers cannot cancel it, they call cancel(job).
        outer.set_running_or_notify_cancel()

        def settle(finished: Future[Document]) -> None:
            if finished.cancelled():
                outer.set_exception(ExtractionCancelled())
            elif isinstance(finished.exception(), BrokenProcessPool):
                outer.set_exception(
                    DocumentError(
                        f"{Path(path).name} made the document reader crash, so it cannot be read.",
                        hint="The file is probably damaged; try saving it again from its source.",
                    )
                )
            elif finished.exception() is not None:
                outer.set_exception(finished.exception())
            else:
                outer.set_result(finished.result())

        def done(finished: Future[Document], attempt: int) -> None:
            if isinstance(finished.exception(), BrokenProcessPool):
                self._discard_pool()
                if attempt == 1:
                    # The helper may have died before this file (killed while idle, out of
                    # memory): read it once more in a new one. Crashing twice is this file.
                    submit(2)
                    return
                self._callbacks.pop(job, None)
                settle(finished)
                return
            # Settle on the relay thread, after the progress this job sent before finishing.
            with self._lock:
                queue = self._queue
            if queue is None:
                self._callbacks.pop(job, None)
                settle(finished)
                return
            self._finishers[job] = lambda: settle(finished)
            try:
                queue.put(("done", job))
            except (OSError, ValueError):  # shut down meanwhile: settle here instead
                if self._finishers.pop(job, None) is not None:
                    settle(finished)

        def submit(attempt: int) -> None:
            with self._lock:
                try:
                    inner = self._ensure_pool().submit(_read_in_worker, job, str(path), password)
                except BrokenProcessPool:
                    self._pool = None  # noticed dead already: start a new helper
                    inner = self._ensure_pool().submit(_read_in_worker, job, str(path), password)
            inner.add_done_callback(lambda finished: done(finished, attempt))

        submit(1)
        return job, outer

    def cancel(self, job: int) -> None:
        """Ask the helper to stop reading job `job` at the next page."""
        with self._lock:
            if self._cancelled is not None:
                self._cancelled.value = job

    def _discard_pool(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
            queue, self._queue = self._queue, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        if queue is not None:
            queue.put(None)

    def shutdown(self) -> None:
        """Stop the helper process and the relay thread."""
        with self._lock:
            if self._cancelled is not None:
                self._cancelled.value = _ALL_JOBS
            pool, self._pool = self._pool, None
            queue, self._queue = self._queue, None
            relay, self._relay = self._relay, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if queue is not None:
            queue.put(None)
            if relay is not None:
                relay.join(5)
            queue.close()
