"""Run core work off the GUI thread and bring results back through queued Qt signals."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot

log = logging.getLogger(__name__)

DoneCallback = Callable[[Any], None]
ErrorCallback = Callable[[BaseException], None]

# About 30 widget updates a second: smooth to the eye, cheap for the layout.
BATCH_INTERVAL_MS = 33


class _Delivery:
    """A finished future and the GUI-thread callbacks waiting for it."""

    __slots__ = ("future", "on_done", "on_error")

    def __init__(self, future: Future[Any], on_done: DoneCallback | None,
                 on_error: ErrorCallback | None) -> None:
        self.future = future
        self.on_done = on_done
        self.on_error = on_error


class TaskRunner(QObject):
    """Runs callables on a small thread pool and adapts Engine futures to the GUI thread.

    Threading: create and use it from the GUI thread. Callbacks given to `run` / `watch`
    are always called in the GUI thread: futures finish on worker or engine threads and
    emit `_finished`, which Qt queues to this object's (the GUI) thread. Every future is
    tracked until its callback ran; `shutdown()` waits for the pool's threads.

    Signals: `task_failed(BaseException)` for errors nobody handled (not UserErrors given
    an `on_error`), `idle_changed(bool)` when the count of pending tasks goes to/from zero.
    """

    task_failed = Signal(object)
    idle_changed = Signal(bool)
    _finished = Signal(object)

    def __init__(self, parent: QObject | None = None, max_workers: int = 4) -> None:
        super().__init__(parent)
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="gd-worker")
        self._pending: set[Future[Any]] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._finished.connect(self._on_finished)

    @property
    def pending(self) -> int:
        """How many tasks have not delivered their result yet."""
        with self._lock:
            return len(self._pending)

    def run(self, fn: Callable[..., Any], *args: Any, on_done: DoneCallback | None = None,
            on_error: ErrorCallback | None = None, **kwargs: Any) -> Future[Any]:
        """Call fn(*args, **kwargs) on a worker thread; callbacks run in the GUI thread."""
        if self._closed:
            raise RuntimeError("the task runner is shut down")
        future = self._pool.submit(fn, *args, **kwargs)
        return self.watch(future, on_done=on_done, on_error=on_error)

    def watch(self, future: Future[Any], *, on_done: DoneCallback | None = None,
              on_error: ErrorCallback | None = None) -> Future[Any]:
        """Deliver an existing future (an Engine call) to GUI-thread callbacks."""
        with self._lock:
            was_idle = not self._pending
            self._pending.add(future)
        if was_idle:
            self.idle_changed.emit(False)
        delivery = _Delivery(future, on_done, on_error)
        # Runs on whichever thread finishes the future; emitting from there queues the signal.
        future.add_done_callback(lambda _f: self._emit_finished(delivery))
        return future

    def _emit_finished(self, delivery: _Delivery) -> None:
        try:
            self._finished.emit(delivery)
        except RuntimeError:  # the window (and this object) is already gone at quit
            log.debug("result delivered after shutdown dropped")

    @Slot(object)
    def _on_finished(self, delivery: _Delivery) -> None:
        with self._lock:
            self._pending.discard(delivery.future)
            idle = not self._pending
        try:
            if self._closed or delivery.future.cancelled():
                return
            error = delivery.future.exception()
            if error is None:
                if delivery.on_done is not None:
                    delivery.on_done(delivery.future.result())
            elif delivery.on_error is not None:
                delivery.on_error(error)
            else:
                self.task_failed.emit(error)
        finally:
            # The future keeps its done-callbacks (and so this delivery) alive; dropping the
            # callbacks now lets a closed dialog they belong to be freed at once, by refcount.
            delivery.on_done = delivery.on_error = None
            if idle:
                self.idle_changed.emit(True)

    def shutdown(self, wait: bool = True) -> None:
        """Drop pending callbacks, cancel queued tasks and join the pool's threads."""
        self._closed = True
        self._pool.shutdown(wait=wait, cancel_futures=True)


class TokenBatcher(QObject):
    """Collects streamed text from any thread and hands it to the GUI in ~33 ms batches.

    Threading: `push()` may be called from any thread (the engine thread calls it per token);
    it only appends to a locked buffer. A QTimer in the GUI thread drains the buffer and
    emits at most about 30 times a second, never once per token: `thinking_ready(str)` with
    the thought text of the batch, then `batch_ready(str)` with its answer text (a thought
    always comes before the answer, so this keeps the order). `flush()` (GUI thread)
    delivers what is left at once.
    """

    batch_ready = Signal(str)
    thinking_ready = Signal(str)

    def __init__(self, parent: QObject | None = None,
                 interval_ms: int = BATCH_INTERVAL_MS) -> None:
        super().__init__(parent)
        self._lock = threading.Lock()
        self._buffer: list[str] = []
        self._thinking: list[str] = []
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._on_timeout)

    def start(self) -> None:
        """Begin draining (GUI thread)."""
        with self._lock:
            self._buffer.clear()
            self._thinking.clear()
        self._timer.start()

    def push(self, text: str) -> None:
        """Append a piece of answer text; safe on any thread."""
        with self._lock:
            self._buffer.append(text)

    def push_thinking(self, text: str) -> None:
        """Append a piece of thought text; safe on any thread."""
        with self._lock:
            self._thinking.append(text)

    def flush(self) -> None:
        """Emit whatever is buffered now and stop the timer (GUI thread)."""
        self._timer.stop()
        self._on_timeout()

    @Slot()
    def _on_timeout(self) -> None:
        with self._lock:
            thinking = "".join(self._thinking)
            text = "".join(self._buffer)
            self._thinking.clear()
            self._buffer.clear()
        if thinking:
            self.thinking_ready.emit(thinking)
        if text:
            self.batch_ready.emit(text)


class ProgressRelay(QObject):
    """Carries (done, total) progress from a worker or the engine thread to the GUI thread.

    Threading: `report()` may be called on any thread; `progressed(int, int)` is delivered
    queued to the GUI thread where this object lives.
    """

    progressed = Signal(int, int)

    def report(self, done: int, total: int) -> None:
        """Emit progress from any thread."""
        self.progressed.emit(done, total)
