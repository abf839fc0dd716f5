"""UI test fixtures: a leaked-thread check, fakes of the engine, and a real window factory."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from gemma_desktop.core.chat import GenerationResult, SamplingParams
from gemma_desktop.core.prompt import PromptSegment, RenderedPrompt

FIXTURE_PDFS = Path(__file__).resolve().parents[1] / "fixtures" / "pdf"


def fixture_pdf(name: str) -> Path:
    """A PDF from tests/fixtures (copied there with its licence row)."""
    path = FIXTURE_PDFS / name
    assert path.exists(), f"missing fixture {path}"
    return path


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    """Fail a test that leaves a thread running it started (workers, the engine)."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5.0
    while True:
        leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not leaked or time.monotonic() > deadline:
            break
        time.sleep(0.02)  # joining threads that are finishing, not waiting on app behaviour
    assert not leaked, f"threads left running: {[t.name for t in leaked]}"


@dataclass(frozen=True)
class FakeModelInfo:
    """The few ModelInfo fields the UI reads."""

    name: str = "fake"
    n_ctx: int = 2048
    n_ctx_train: int = 32768
    path: Path = Path("fake.gguf")
    sampling: SamplingParams = field(default_factory=SamplingParams)
    supports_thinking: bool = False


class FakeEngine:
    """An Engine stand-in: a thread emits scripted tokens; one 'token' per word.

    Threading like the real one: futures finish on its own thread and on_token runs there.
    """

    def __init__(self, reply: str = "Hello **world**, this is a reply.", delay: float = 0.005,
                 n_ctx: int = 2048, thought: str = "", thought_cut: bool = False) -> None:
        self.reply = reply
        # With thinking on: these words stream as the thought first; `thought_cut` ends the
        # reply there, as when the limit is reached mid-thought.
        self.thought = thought
        self.thought_cut = thought_cut
        self.fail_continuation = ""  # an error message raised when asked to carry on
        self.rendered: list[bool] = []  # the thinking switch of every render call
        self.delay = delay
        self.model: Any = FakeModelInfo(n_ctx=n_ctx, supports_thinking=bool(thought))
        self._cancel = threading.Event()
        self._threads: list[threading.Thread] = []
        self.generated: list[Any] = []
        self.calls: list[dict[str, Any]] = []

    def _spawn(self, fn: Callable[[], Any]) -> Future[Any]:
        future: Future[Any] = Future()

        def run() -> None:
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)

        thread = threading.Thread(target=run, name="fake-engine")
        self._threads.append(thread)
        thread.start()
        return future

    @staticmethod
    def _count(text: str) -> int:
        return len(text.split())

    def count_tokens(self, text: str) -> Future[int]:
        return self._spawn(lambda: self._count(text))

    def render(self, messages: Any, *,
               thinking: bool = False) -> Future[tuple[RenderedPrompt, int]]:
        self.rendered.append(thinking)
        text = ("<think-on>\n" if thinking else "") + "\n".join(
            f"{m.role}: {m.content}" for m in messages)
        prompt = RenderedPrompt((PromptSegment(text, False),), "fake", False)
        return self._spawn(lambda: (prompt, self._count(text) + 2 * len(messages)))

    def generate(self, messages: Any, *, max_tokens: int = 1024, sampling: Any = None,
                 thinking: bool = False, continuation: Any = None, on_token: Any = None,
                 on_thinking: Any = None, on_prompt_progress: Any = None,
                 on_thought_tokens: Any = None) -> Future[Any]:
        self.generated.append(list(messages))
        self.calls.append({"thinking": thinking, "continuation": continuation,
                           "max_tokens": max_tokens})

        def stream(text: str, callback: Any, out: list[str]) -> bool:
            for word in text.split(" "):
                if self._cancel.is_set():
                    return False
                piece = word if not out else " " + word
                out.append(piece)
                if callback:
                    callback(piece)
                if callback is on_thinking and on_thought_tokens:
                    on_thought_tokens(len(out) + (continuation.thinking_tokens
                                                  if continuation else 0))
                self._cancel.wait(self.delay)
            return True

        def job() -> GenerationResult:
            self._cancel.clear()
            if continuation is not None and self.fail_continuation:
                from gemma_desktop.core.errors import ContextOverflowError

                raise ContextOverflowError(self.fail_continuation, needed=3000, n_ctx=2048)
            if on_prompt_progress:
                on_prompt_progress(1, 1)
            thought: list[str] = []
            pieces: list[str] = []
            finish = "stop"
            thinks = thinking and self.thought and not (continuation and
                                                        continuation.close_thought)
            if thinks and not stream(self.thought, on_thinking, thought):
                finish = "cancelled"
            cut = thinks and self.thought_cut and continuation is None
            if finish == "stop" and not cut and not stream(self.reply, on_token, pieces):
                finish = "cancelled"
            prior = continuation.thinking if continuation else ""
            result = GenerationResult("".join(pieces), "length" if cut else finish, 10,
                                      len(pieces) + len(thought), ttft_s=0.01,
                                      decode_tokens_per_s=100.0,
                                      length_limit="max_tokens" if cut else "")
            result.thinking = prior + "".join(thought)
            result.thinking_tokens = len(thought) + (continuation.thinking_tokens
                                                     if continuation else 0)
            result.thinking_s = 0.5 if result.thinking else 0.0
            result.thinking_complete = (not cut and finish != "cancelled") or not thinks
            return result

        return self._spawn(job)

    def load(self, path: Any, n_ctx: int) -> Future[Any]:
        return self._spawn(lambda: self.model)

    def stop(self) -> None:
        self._cancel.set()

    def shutdown(self) -> None:
        self.stop()
        for thread in self._threads:
            thread.join(5)


class FakeRegistry:
    """A registry with one fake model."""

    def __init__(self) -> None:
        from gemma_desktop.core.models import ModelEntry

        self.entry = ModelEntry("fake", "Fake model", Path("fake.gguf"), description="A fake.",
                                size_bytes=1 << 20, context_length=4096)

    def default_model(self) -> Any:
        return self.entry

    def list(self) -> list[Any]:
        return [self.entry]

    def get(self, model_id: str) -> Any:
        return self.entry if model_id == "fake" else None

    def mark_used(self, model_id: str) -> None:
        pass

    def add_local(self, path: Any) -> Any:
        from gemma_desktop.core.errors import ModelFileError

        raise ModelFileError(f"{Path(path).name} is not a GGUF model file.")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The offscreen platform warns whenever a window's size limits change; that is not a bug."""
    for item in items:
        if "tests/ui/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.qt_log_ignore("This plugin does not support"))


@pytest.fixture
def make_window(qtbot: Any, basedir: Path) -> Callable[..., Any]:
    """Build a MainWindow on `basedir` with the given engine and registry; closed at teardown."""
    from gemma_desktop.core.history import HistoryStore
    from gemma_desktop.ui.main_window import MainWindow

    stores: list[Any] = []
    windows: list[Any] = []

    def make(engine: Any, registry: Any, start: bool = True) -> Any:
        store, _warning = HistoryStore.open_or_recover(basedir / "history.sqlite3")
        store.mark_interrupted()
        stores.append(store)
        window = MainWindow(store, registry, engine, basedir)
        qtbot.addWidget(window)
        window.attachments._ask_password = lambda name, wrong: None
        windows.append(window)
        window.show()
        if start:
            window.start()
            qtbot.waitUntil(lambda: window.status.state_label.text() == "Ready", timeout=60_000)
        return window

    yield make
    for window in windows:
        window.close()
    for store in stores:
        store.close()


@pytest.fixture
def real_parts(basedir: Path, starter_model_path: Path) -> Any:
    """A registry holding the starter (copied into models/, as ensure_starter would) + an Engine."""
    from gemma_desktop.core.engine import Engine
    from gemma_desktop.core.models import ModelRegistry
    from gemma_desktop.core.paths import resolve_paths

    paths = resolve_paths(basedir).ensure()

    def make() -> tuple[Any, Any]:
        registry = ModelRegistry(paths)
        if not registry.list():
            registry.add_local(starter_model_path)
        return Engine(), registry

    return make


def write_prefs(basedir: Path, **values: int) -> None:
    """Preferences the window reads at start (n_ctx, max_tokens)."""
    (basedir / "ui-preferences.json").write_text(json.dumps(values), "utf-8")


@pytest.fixture
def themed() -> Iterator[Callable[[bool], Any]]:
    """A ThemeManager factory; the app's look is put back afterwards for other tests."""
    from PySide6.QtCore import QEvent
    from PySide6.QtWidgets import QApplication

    from gemma_desktop.ui.theme import ThemeManager

    app = QApplication.instance()
    saved = (app.styleSheet(), app.palette(), app.font(), app.style().name())
    managers: list[Any] = []

    def make(dark: bool) -> Any:
        managers.append(ThemeManager(app, force_dark=dark))
        return managers[-1]

    yield make
    for manager in managers:
        manager.deleteLater()
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    app.setStyleSheet(saved[0])
    app.setPalette(saved[1])
    app.setFont(saved[2])
    app.setStyle(saved[3])
