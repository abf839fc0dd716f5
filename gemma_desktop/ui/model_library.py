"""The model library: download Gemma 4 models, add one from Hugging Face, use GGUFs on disk."""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from gemma_desktop.core.catalog import CatalogModel, ModelFile, load_catalog
from gemma_desktop.core.discover import (
    HF_CACHE,
    LM_STUDIO,
    FoundModel,
    default_locations,
    find_ggufs,
)
from gemma_desktop.core.download import Progress
from gemma_desktop.core.errors import UserError
from gemma_desktop.core.fit import COMFORT, FitEstimate, Recommendation, estimate
from gemma_desktop.core.models import ModelEntry, ModelRegistry, path_key
from gemma_desktop.core.secrets import TokenStatus, TokenStore
from gemma_desktop.ui.download_manager import DownloadManager, download_key
from gemma_desktop.ui.first_run import PERMILLE, format_size, progress_text
from gemma_desktop.ui.hardware_dialog import CheckFn, check_machine
from gemma_desktop.ui.hardware_view import gib
from gemma_desktop.ui.plain_label import plain_label
from gemma_desktop.ui.workers import TaskRunner

log = logging.getLogger(__name__)

LocationsFn = Callable[[], list[tuple[str, Path]]]

GEMMA4_RUNGS = ("edge", "throughput", "logic")
FIT_CONTEXT = 8192  # the verdict's context: a long chat with a document, not the maximum
CHECKING = "Checking this computer…"
LOOKING = "Looking in the models folder…"
RUNG_TEXT = {
    "edge": "Small and quick: made for laptops and everyday computers.",
    "throughput": "A mixture of experts: fast answers on big computers with plenty of memory.",
    "logic": "The best answers of the family; needs a lot of memory.",
}
CAPABILITY_NAMES = {"text": "Text", "image": "Images", "audio": "Audio", "thinking": "Thinking"}
SOURCE_NAMES = {HF_CACHE: "Hugging Face cache", LM_STUDIO: "LM Studio"}
NOTHING_FOUND = "No other GGUF files found in the Hugging Face cache or LM Studio's folder."
REPO_HINT = "Write the repository as owner/name, e.g. unsloth/gemma-4-E4B-it-GGUF"
FILE_HINT = "Write the file name ending in .gguf, e.g. gemma-4-E4B-it-Q4_K_M.gguf"
PROJECTOR_HINT = (
    "That file is an image part (mmproj), not a model: choose the model's main .gguf file."
)
_REPO_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*")
_HUB_PREFIX = re.compile(r"^https?://(www\.)?(huggingface\.co|hf\.co)/", re.IGNORECASE)
# States in which a flow's files are in use, so its choice of files must not change.
BUSY_STATES = ("downloading", "pausing", "paused", "cancelling", "failed", "installing")


# Plain data and worker-thread functions


@dataclass(frozen=True)
class Step:
    """One file of a download, in the order the files are fetched."""

    repo: str
    filename: str
    size: int = 0  # the catalog's size, for the words; 0 when not known
    exact: bool = False  # the size is exact, so the server must agree with it
    model: bool = True  # the chat model itself (registered), not its image part

    @property
    def key(self) -> str:
        """The DownloadManager key."""
        return download_key(self.repo, self.filename)

    @property
    def name(self) -> str:
        """The name it is saved under in the models folder."""
        return self.filename.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class DiskState:
    """What the models folder holds for some file names (read on a worker thread)."""

    complete: dict[str, int] = field(default_factory=dict)  # name -> size of the finished file
    parts: dict[str, int] = field(default_factory=dict)  # name -> bytes in its .part
    registered: frozenset[str] = frozenset()  # names the registry lists as models

    def is_complete(self, step: Step) -> bool:
        """Whether the step's file is there, whole and (for a model) registered."""
        size = self.complete.get(step.name)
        if size is None or (step.exact and size != step.size):
            return False
        return not step.model or step.name in self.registered

    def part(self, step: Step) -> int:
        """Bytes already in the step's .part file (0 when there is none)."""
        return self.parts.get(step.name, 0)


def scan_models_dir(models_dir: Path, names: Sequence[str], registry: ModelRegistry) -> DiskState:
    """Sizes of finished and partial files for `names` (worker thread: stat and registry)."""
    # list() also adopts finished GGUFs dropped into models/, so this is the registry's view.
    registered = {path_key(e.path) for e in registry.list() if e.available}
    complete: dict[str, int] = {}
    parts: dict[str, int] = {}
    known: set[str] = set()
    for name in set(names):
        target = models_dir / name
        with contextlib.suppress(OSError):
            complete[name] = target.stat().st_size
            if path_key(target) in registered:
                known.add(name)
        with contextlib.suppress(OSError):
            parts[name] = target.with_name(name + ".part").stat().st_size
    return DiskState(complete, parts, frozenset(known))


def remove_files(paths: Sequence[Path]) -> None:
    """Delete files that may or may not exist (worker thread)."""
    for path in paths:
        path.unlink(missing_ok=True)


def find_models(locations: LocationsFn,
                registry: ModelRegistry) -> list[tuple[FoundModel, bool]]:
    """GGUFs other tools downloaded, each with whether it is registered (worker thread)."""
    found = find_ggufs(locations())
    known = {path_key(e.path) for e in registry.list()}
    return [(model, path_key(model.path) in known) for model in found]


def error_text(exc: BaseException, action: str) -> str:
    """What to show for a failed action: a UserError says it all; anything else is a bug."""
    if isinstance(exc, UserError):
        return str(exc)
    log.error("%s failed: %s", action, type(exc).__name__, exc_info=exc)
    return f"Something went wrong while {action}. Try again."


def gone(obj: QObject) -> bool:
    """True when the Qt side of obj is deleted (a worker answered after the dialog closed)."""
    return not shiboken6.isValid(obj)


def check_hf_input(repo: str, filename: str) -> tuple[str, str, str, str]:
    """(repo, filename, repo problem, file problem): a pasted model page link is understood."""
    repo, filename = repo.strip(), filename.strip()
    repo = _HUB_PREFIX.sub("", repo).strip("/")
    # A link to the file itself: owner/name/blob/main/file.gguf or .../resolve/main/...
    match = re.fullmatch(r"([^/]+/[^/]+)/(?:blob|resolve)/[^/]+/(.+)", repo)
    if match:
        repo, filename = match.group(1), filename or match.group(2).split("?")[0]
    repo_problem = "" if _REPO_RE.fullmatch(repo) else REPO_HINT
    segments = filename.split("/")
    if (not filename.lower().endswith(".gguf") or "\\" in filename
            or any(part in ("", ".", "..") for part in segments)):
        file_problem = FILE_HINT
    elif "mmproj" in segments[-1].lower():
        file_problem = PROJECTOR_HINT
    else:
        file_problem = ""
    return repo, filename, repo_problem, file_problem


# Small widget helpers


_label = partial(plain_label, wrap=True)


def _button(text: str, *, primary: bool = False, width: int = 96) -> QPushButton:
    button = QPushButton(text)
    button.setMinimumSize(width, 34)
    # Enter in a field means that field's action (returnPressed), never some other button.
    button.setAutoDefault(False)
    if primary:
        button.setProperty("primary", True)
    button.setCursor(Qt.CursorShape.PointingHandCursor)
    return button


def _restyle(widget: QWidget, name: str, value: str) -> None:
    """Set a property the style sheet selects on, and apply the new look."""
    if widget.property(name) == value:
        return
    widget.setProperty(name, value)
    widget.style().unpolish(widget)
    widget.style().polish(widget)


def _gib(value: int) -> str:
    return f"{gib(value)} GiB"


# One download: its view and the flow behind it


class DownloadPanel(QWidget):
    """The action area of a download: bar, words and the buttons each state offers.

    Threading: GUI thread only. Signals: one per button (`download_clicked`, `pause_clicked`,
    `resume_clicked`, `cancel_clicked`, `retry_clicked`, `use_clicked`).
    """

    download_clicked = Signal()
    pause_clicked = Signal()
    resume_clicked = Signal()
    cancel_clicked = Signal()
    retry_clicked = Signal()
    use_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("LibraryPanel")
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(8)
        self.bar = QProgressBar()
        self.bar.setObjectName("LibraryProgress")
        self.bar.setRange(0, PERMILLE)
        self.bar.setTextVisible(False)
        self.bar.setFixedHeight(8)
        column.addWidget(self.bar)
        self.error = _label("", "InlineError")
        column.addWidget(self.error)
        row = QHBoxLayout()
        row.setSpacing(8)
        self.status = _label("", "LibraryStatus")
        row.addWidget(self.status, 1)
        self.cancel_button = _button("Cancel")
        self.pause_button = _button("Pause")
        self.resume_button = _button("Resume", primary=True)
        self.retry_button = _button("Retry", primary=True)
        self.download_button = _button("Download", primary=True, width=120)
        self.use_button = _button("Use", primary=True)
        for button, signal in (
            (self.cancel_button, self.cancel_clicked), (self.pause_button, self.pause_clicked),
            (self.resume_button, self.resume_clicked), (self.retry_button, self.retry_clicked),
            (self.download_button, self.download_clicked), (self.use_button, self.use_clicked),
        ):
            button.clicked.connect(signal)
            row.addWidget(button, 0, Qt.AlignmentFlag.AlignVCenter)
        column.addLayout(row)
        self.state = ""
        self.show_state("loading", LOOKING)

    def buttons(self) -> dict[str, QPushButton]:
        """The buttons by the name of their action."""
        return {
            "cancel": self.cancel_button, "pause": self.pause_button,
            "resume": self.resume_button, "retry": self.retry_button,
            "download": self.download_button, "use": self.use_button,
        }

    def show_state(self, state: str, text: str = "", *, error: str = "",
                   permille: int | None = None) -> None:
        """Show what a state offers: which buttons, the words, the bar and an error."""
        self.state = state
        shown = {
            "idle": ("download",), "downloading": ("cancel", "pause"),
            "pausing": ("cancel", "pause"), "paused": ("cancel", "resume"),
            "failed": ("cancel", "retry"), "installed": ("use",),
        }.get(state, ())
        for name, button in self.buttons().items():
            button.setVisible(name in shown)
            button.setEnabled(True)
        self.pause_button.setText("Pausing…" if state == "pausing" else "Pause")
        self.pause_button.setEnabled(state != "pausing")
        self.use_button.setText("Use")
        self.status.setText(text)
        _restyle(self.status, "kind", "done" if state == "installed" else "")
        self.error.setText(error)
        self.error.setVisible(bool(error))
        self.bar.setVisible(state in ("downloading", "pausing", "installing"))
        if permille is not None:
            self.bar.setValue(max(0, min(PERMILLE, permille)))

    def set_progress(self, permille: int, text: str) -> None:
        """Move the bar and update the words while downloading."""
        self.bar.setValue(max(0, min(PERMILLE, permille)))
        self.status.setText(text)


class DownloadFlow(QObject):
    """Fetches a panel's files one after the other (model first), then registers the model.

    A file that is already whole on disk is skipped. Cancel pauses the worker and deletes the
    .part files once it has really stopped. The flow also follows downloads of its files that
    another window started, so a reopened library carries on where the last one was.

    Threading: GUI thread only. Registering and deleting run on the TaskRunner; the bytes come
    from the DownloadManager's worker. Signals: `ready(ModelEntry)` when the model can be used,
    `changed()` whenever the state changes.
    """

    ready = Signal(object)
    changed = Signal()

    def __init__(self, runner: TaskRunner, downloads: DownloadManager, registry: ModelRegistry,
                 models_dir: Path, panel: DownloadPanel, *, installed_text: str = "✓ Installed",
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._runner = runner
        self._downloads = downloads
        self._registry = registry
        self._models_dir = models_dir
        self.panel = panel
        self.installed_text = installed_text
        self.idle_text = ""
        self.state = "loading"
        self.error = ""
        self.entry: ModelEntry | None = None
        self._steps: list[Step] = []
        self._index = 0
        self._complete: set[str] = set()  # keys of steps whose file is whole on disk
        self._have: dict[str, int] = {}  # key -> bytes on disk
        self._sizes: dict[str, int] = {}  # key -> size the server announced
        self._last: Progress | None = None
        self._register_failed = False
        panel.download_clicked.connect(self.start)
        panel.resume_clicked.connect(self.start)
        panel.retry_clicked.connect(self.retry)
        panel.pause_clicked.connect(self.pause)
        panel.cancel_clicked.connect(self.cancel)
        panel.use_clicked.connect(self.use)
        downloads.progressed.connect(self._on_progressed)
        downloads.finished.connect(self._on_finished)
        downloads.failed.connect(self._on_failed)
        downloads.paused.connect(self._on_paused)
        self._show()

    # What the flow is about

    @property
    def steps(self) -> list[Step]:
        """The files this flow fetches, in order."""
        return list(self._steps)

    @property
    def busy(self) -> bool:
        """Whether its files are in use (downloading, paused, failed…): the choice is locked."""
        return self.state in BUSY_STATES

    def owns(self, key: str) -> bool:
        """Whether a download key is one of this flow's files."""
        return any(step.key == key for step in self._steps)

    def current_key(self) -> str | None:
        """The key of the file being (or last) fetched."""
        return self._steps[self._index].key if self._steps else None

    def done_bytes(self) -> int:
        """Bytes on disk over all files."""
        return sum(self._have.get(step.key, 0) for step in self._steps)

    def total_bytes(self) -> int:
        """Bytes of all files (the server's sizes once known, else the catalog's)."""
        return sum(self._sizes.get(step.key, step.size) for step in self._steps)

    def set_steps(self, steps: Sequence[Step], disk: DiskState | None) -> None:
        """Fetch these files from now on; `disk` says which are there already."""
        if self.busy:
            return
        self._steps = list(steps)
        self._index = 0
        self._register_failed = False
        self._last = None
        self._sizes = {}
        disk = disk or DiskState()
        self._complete = {step.key for step in steps if disk.is_complete(step)}
        self._have = {
            step.key: step.size if step.key in self._complete else disk.part(step)
            for step in steps
        }
        if steps and len(self._complete) == len(steps):
            self._set_state("installed")
        elif any(disk.part(step) for step in steps if step.key not in self._complete):
            self._index = self._next_index() or 0
            self._set_state("paused")
        else:
            self._set_state("idle")

    def follow(self, key: str, progress: Progress | None) -> None:
        """Show a download of one of our files that is already running (a reopened window)."""
        index = next((i for i, step in enumerate(self._steps) if step.key == key), None)
        if index is None:
            return
        # Files are fetched in order: the ones before it are whole.
        for step in self._steps[:index]:
            self._complete.add(step.key)
            self._have[step.key] = step.size
        self._index = index
        self._error_reset()
        self._set_state("downloading")
        if progress is not None:
            self._on_progressed(key, progress)

    # Actions

    def start(self) -> None:
        """Download (or resume) the next file that is not whole yet; register when none is."""
        if not self._steps:
            return  # the models folder is still being looked at
        index = self._next_index()
        self._error_reset()
        if index is None:
            self._register()
            return
        self._index = index
        step = self._steps[index]
        self._last = None
        self._set_state("downloading")
        # start() also resumes: the core carries on from the .part with a Range request.
        self._downloads.start(step.key, step.repo, step.filename,
                              expected_size=step.size if step.exact else None)

    def pause(self) -> None:
        """Stop the worker, keeping the .part; the panel says Paused once it has stopped."""
        key = self.current_key()
        if self.state == "downloading" and key is not None and self._downloads.active() == key:
            self._set_state("pausing")
            self._downloads.pause(key)

    def cancel(self) -> None:
        """Stop and delete the partial files (once the worker has let go of them)."""
        key = self.current_key()
        if self.state in ("downloading", "pausing") and key is not None:
            running = self._downloads.active() == key
            if running or self.state == "pausing":
                self._set_state("cancelling")
                if running:
                    self._downloads.pause(key)  # _on_paused deletes the files
                return
        self._delete_parts()

    def reset(self) -> None:
        """Forget a paused, failed or finished download and offer a new one; files stay."""
        if self.state in ("paused", "failed", "installed"):
            self._error_reset()
            self._set_state("idle")

    def retry(self) -> None:
        """Try again what failed: the registration, or the download from where it stopped."""
        if self._register_failed:
            self._error_reset()
            self._register()
        else:
            self.start()

    def use(self) -> None:
        """Hand out the installed model (registering it again is cheap and mends the entry)."""
        if self.state != "installed":
            return
        self.panel.use_button.setEnabled(False)
        self.panel.use_button.setText("Adding…")
        model, mmproj = self._paths()
        self._runner.run(self._registry.add_local, model, mmproj=mmproj,
                         on_done=self._on_registered, on_error=self._on_register_failed)

    # Manager signals

    def _on_progressed(self, key: str, progress: Progress) -> None:
        if not self.owns(key):
            return
        if self.state in ("loading", "idle", "paused", "failed"):
            self.follow(key, None)  # started elsewhere (another window)
        if key != self.current_key() or self.state != "downloading":
            return
        self._last = progress
        self._have[key] = progress.done
        if progress.total > 0:
            self._sizes[key] = progress.total
        self._show_progress()

    def _on_finished(self, key: str, path: Path) -> None:
        if not self.owns(key) or self.state in ("installing", "installed"):
            return
        self._complete.add(key)
        self._sizes[key] = self._have[key] = self._size_of(key)
        if self.state == "cancelling":
            self._delete_parts()  # finished before the cancel took hold: keep the whole file
            return
        self.start()

    def _on_failed(self, key: str, message: str) -> None:
        if key != self.current_key():
            return
        if self.state == "cancelling":
            self._delete_parts()
        elif self.state in ("downloading", "pausing", "loading", "idle", "paused"):
            self._have[key] = self._last.done if self._last else self._have.get(key, 0)
            self.error = message
            self._set_state("failed")

    def _on_paused(self, key: str) -> None:
        if key != self.current_key():
            return
        if self.state == "cancelling":
            self._delete_parts()
        elif self.state in ("downloading", "pausing"):
            # Another download may have taken the worker: this one waits, paused.
            self._set_state("paused")

    # Registering and deleting (on the runner)

    def _register(self) -> None:
        self._set_state("installing")
        model, mmproj = self._paths()
        self._runner.run(self._registry.add_local, model, mmproj=mmproj,
                         on_done=self._on_registered, on_error=self._on_register_failed)

    def _on_registered(self, entry: ModelEntry) -> None:
        if gone(self):
            return
        self.entry = entry
        self._register_failed = False
        self._set_state("installed")
        self.ready.emit(entry)

    def _on_register_failed(self, exc: BaseException) -> None:
        if gone(self):
            return
        self._register_failed = True
        self.error = error_text(exc, "adding the model")
        self._set_state("failed")

    def _delete_parts(self) -> None:
        self._set_state("cancelling")
        parts = [
            self._models_dir / (step.name + ".part")
            for step in self._steps if step.key not in self._complete
        ]
        self._runner.run(remove_files, parts, on_done=self._on_parts_deleted,
                         on_error=self._on_delete_failed)

    def _on_parts_deleted(self, _result: Any) -> None:
        if gone(self):
            return
        for step in self._steps:
            if step.key not in self._complete:
                self._have[step.key] = 0
        self._index = 0
        self._set_state("installed" if len(self._complete) == len(self._steps) else "idle")

    def _on_delete_failed(self, exc: BaseException) -> None:
        if gone(self):
            return
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        self.error = (f"The partial download could not be deleted ({detail}). Close programs "
                      "that use the models folder and try again.")
        self._set_state("failed")

    # Helpers

    def _next_index(self) -> int | None:
        return next((i for i, s in enumerate(self._steps) if s.key not in self._complete), None)

    def _paths(self) -> tuple[Path, Path | None]:
        """The model file and its image part (when fetched) in the models folder."""
        model = self._models_dir / self._steps[0].name
        extra = [self._models_dir / s.name for s in self._steps[1:] if not s.model]
        return model, (extra[0] if extra else None)

    def _size_of(self, key: str) -> int:
        step = next(s for s in self._steps if s.key == key)
        return self._sizes.get(key) or (self._last.total if self._last else 0) or step.size

    def _error_reset(self) -> None:
        self.error = ""
        self._register_failed = False

    def _set_state(self, state: str) -> None:
        self.state = state
        self._show()
        self.changed.emit()

    def _show(self) -> None:
        """Put the state into words on the panel."""
        done, total = self.done_bytes(), self.total_bytes()
        permille = done * PERMILLE // total if total else 0
        so_far = f"{format_size(done)} of {format_size(total)}" if total else ""
        texts = {
            "loading": LOOKING,
            "idle": self.idle_text,
            "downloading": "Connecting…",
            "pausing": "Pausing…",
            "paused": f"Paused at {so_far}" if so_far else "Paused",
            "cancelling": "Cancelling…",
            # The error says how far it got when that matters (a damaged file is deleted).
            "failed": "",
            "installing": "Downloaded and checked. Adding it to your models…",
            "installed": self.installed_text,
        }
        self.panel.show_state(self.state, texts.get(self.state, ""), error=self.error,
                              permille=PERMILLE if self.state == "installing" else permille)
        if self.state == "downloading" and self._last is not None:
            self._show_progress()

    def _show_progress(self) -> None:
        """The bar and words over all files, at the speed of the one being fetched."""
        done, total = self.done_bytes(), self.total_bytes()
        if total <= 0 or self._last is None:
            return
        rate = self._last.bytes_per_s
        eta = (total - done) / rate if rate > 0 else None
        self.panel.set_progress(done * PERMILLE // total,
                                progress_text(Progress(done, total, rate, eta)))


# Section 1: a card per Gemma 4 model


@dataclass(frozen=True)
class Verdict:
    """How a model fits this computer, in words, with the numbers for the tooltip."""

    kind: str  # "checking", "comfortable", "tight", "toobig", "unknown"
    text: str
    detail: str = ""


def fit_verdict(model: CatalogModel, file: ModelFile, with_mmproj: bool,
                hardware: Any) -> Verdict:
    """Whether a file fits this computer's memory at FIT_CONTEXT, in words."""
    n_ctx = min(model.max_context, FIT_CONTEXT)
    fit: FitEstimate = estimate(model, file, n_ctx, with_mmproj=with_mmproj, hardware=hardware)
    budget = fit.budget_bytes or 0
    about = "about " if file.approximate else ""
    detail = (
        f"Needs {about}{_gib(fit.total_bytes)} of memory with a {n_ctx // 1024}K-token "
        f"context{' and image understanding' if fit.mmproj_bytes else ''}; this computer "
        f"has about {_gib(budget)} free for it."
    )
    detail = "\n".join((detail, *fit.notes))
    if not fit.fits:
        return Verdict("toobig", "Too big for this computer's memory", detail)
    if fit.total_bytes > budget * COMFORT:
        return Verdict("tight", "Tight", detail + "\nIt fits, with little memory to spare.")
    return Verdict("comfortable", "Fits comfortably", detail)


def catalog_steps(file: ModelFile, with_mmproj: bool) -> list[Step]:
    """The files to fetch for a catalog file: the model, then its image part."""
    steps = [Step(file.repo, file.file, file.size, exact=not file.approximate)]
    if with_mmproj and file.mmproj_file:
        # The catalog's image-part sizes may be rounded: the server's sha256 checks it instead.
        steps.append(Step(file.repo, file.mmproj_file, file.mmproj_size, exact=False,
                          model=False))
    return steps


def _file_text(file: ModelFile) -> str:
    about = "about " if file.approximate else ""
    return f"{file.quant} · {about}{format_size(file.size)}"


class ModelCard(QFrame):
    """One Gemma 4 model: what it is, how it fits, which file, and its download.

    Threading: GUI thread only. Signals: `ready(ModelEntry)` from its flow.
    """

    ready = Signal(object)

    def __init__(self, model: CatalogModel, runner: TaskRunner, downloads: DownloadManager,
                 registry: ModelRegistry, models_dir: Path,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("LibraryCard")
        self.model = model
        self._runner = runner
        self._registry = registry
        self._models_dir = models_dir
        self._was_busy = False
        self._disk: DiskState | None = None
        self._hardware: Any = None
        self._recommended: ModelFile | None = None
        self._user_chose = False  # the quantisation or the image part
        column = QVBoxLayout(self)
        column.setContentsMargins(20, 16, 20, 16)
        column.setSpacing(10)
        column.addLayout(self._build_heading())
        column.addWidget(_label(RUNG_TEXT.get(model.rung, ""), "LibraryCardText"))
        column.addLayout(self._build_capabilities())
        column.addLayout(self._build_choice())
        line = QFrame()
        line.setObjectName("LibraryRule")
        line.setFixedHeight(1)
        column.addSpacing(2)
        column.addWidget(line)
        column.addSpacing(2)
        self.panel = DownloadPanel()
        column.addWidget(self.panel)
        self.flow = DownloadFlow(runner, downloads, registry, models_dir, self.panel,
                                 parent=self)
        self.flow.changed.connect(self._on_flow_changed)
        self.flow.ready.connect(self.ready)
        self.setAccessibleName(model.name)
        self._refresh()

    def _build_heading(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.setSpacing(10)
        self.title = _label(self.model.name, "LibraryCardTitle", wrap=False)
        row.addWidget(self.title)
        self.badge = _label("Recommended", "FitBadge", wrap=False)
        self.badge.setProperty("kind", "recommended")
        self.badge.hide()
        row.addWidget(self.badge, 0, Qt.AlignmentFlag.AlignVCenter)
        row.addStretch(1)
        self.verdict = _label(CHECKING, "FitVerdict", wrap=False)
        self.verdict.setProperty("kind", "checking")
        row.addWidget(self.verdict, 0, Qt.AlignmentFlag.AlignVCenter)
        return row

    def _build_capabilities(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.setSpacing(6)
        self.capabilities = [
            _label(CAPABILITY_NAMES.get(c, c.title()), "CapabilityChip", wrap=False)
            for c in self.model.capabilities
        ]
        for chip in self.capabilities:
            row.addWidget(chip)
        row.addStretch(1)
        return row

    def _build_choice(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.setSpacing(12)
        row.addWidget(_label("Version", "LibraryFieldLabel", wrap=False))
        self.combo = QComboBox()
        self.combo.setMinimumWidth(240)
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        for index, file in enumerate(self.model.files):
            self.combo.addItem(_file_text(file), index)
            self.combo.setItemData(index, f"{file.repo}/{file.file}",
                                   Qt.ItemDataRole.ToolTipRole)
        self.combo.activated.connect(self._on_file_chosen)
        row.addWidget(self.combo)
        row.addSpacing(8)
        self.vision = QCheckBox()
        self.vision.setChecked(True)
        self.vision.clicked.connect(self._on_vision_clicked)
        row.addWidget(self.vision)
        row.addStretch(1)
        return row

    # What the card shows

    def file(self) -> ModelFile:
        """The file the quantisation chooser shows."""
        return self.model.files[max(0, self.combo.currentIndex())]

    def with_mmproj(self) -> bool:
        """Whether the image part comes with the download."""
        return bool(self.file().mmproj_file) and self.vision.isChecked()

    def steps(self) -> list[Step]:
        """The files the card's download fetches."""
        return catalog_steps(self.file(), self.with_mmproj())

    def download_keys(self) -> set[str]:
        """Every download key of this model's files (all quantisations, image parts too)."""
        return {s.key for f in self.model.files for s in catalog_steps(f, True)}

    def file_names(self) -> list[str]:
        """Every file name this card may find in the models folder."""
        return [s.name for f in self.model.files for s in catalog_steps(f, True)]

    def set_disk(self, disk: DiskState) -> None:
        """What the models folder holds: pick the file in use and show its state."""
        self._disk = disk
        if not self.flow.busy and not self._user_chose:
            self._select(self._default_file(), self._default_vision())
        self._refresh()

    def set_machine(self, hardware: Any, recommendation: Recommendation | None) -> None:
        """The check's result: verdicts, the badge, and the recommended file as the default."""
        self._hardware = hardware
        mine = recommendation is not None and recommendation.model.id == self.model.id
        self._recommended = recommendation.file if mine and recommendation else None
        self.badge.setVisible(mine)
        if not self.flow.busy and not self._user_chose and self._disk is not None:
            self._select(self._default_file(), self.vision.isChecked())
            self._refresh()
        self._update_verdict()

    def set_check_failed(self, message: str) -> None:
        """The check failed: the verdict says so, the reason in the tooltip."""
        self._show_verdict(Verdict("unknown", "Fit not known",
                                   f"This computer could not be checked: {message}"))

    def follow(self, key: str, progress: Progress | None) -> None:
        """A download of one of this model's files is running: show it."""
        for file in self.model.files:
            if key in {s.key for s in catalog_steps(file, True)}:
                self._select(file, True)
                self.flow.set_steps(self.steps(), self._disk)
                self.flow.follow(key, progress)
                return

    def _default_file(self) -> ModelFile:
        """A file with a partial download, else an installed one, else the recommended one."""
        disk = self._disk or DiskState()
        files = self.model.files
        for file in files:
            steps = catalog_steps(file, True)
            if any(disk.part(s) for s in steps if not disk.is_complete(s)):
                return file
        for file in files:
            if disk.is_complete(catalog_steps(file, False)[0]):
                return file
        if self._recommended is not None and self._recommended in files:
            return self._recommended
        return next((f for f in files if not f.approximate), files[0])

    def _default_vision(self) -> bool:
        """On, unless the model was installed without its image part."""
        disk = self._disk or DiskState()
        steps = catalog_steps(self._default_file(), True)
        if len(steps) < 2 or not disk.is_complete(steps[0]):
            return True
        return disk.is_complete(steps[1]) or bool(disk.part(steps[1]))

    def _select(self, file: ModelFile, vision: bool) -> None:
        self.combo.setCurrentIndex(self.model.files.index(file))
        self.vision.setChecked(vision)

    def _refresh(self) -> None:
        """Show the chosen file: the image-part switch, the verdict and the download's state."""
        file = self.file()
        self.vision.setVisible(bool(file.mmproj_file))
        if file.mmproj_file:
            self.vision.setText(
                f"Include image understanding (+{format_size(file.mmproj_size)})"
            )
        if self._disk is not None:
            self.flow.idle_text = f"{format_size(sum(s.size for s in self.steps()))} to download"
            self.flow.set_steps(self.steps(), self._disk)
        self._update_verdict()
        self._on_flow_changed()

    def _update_verdict(self) -> None:
        if self._hardware is None:
            if self.verdict.property("kind") == "checking":
                self._show_verdict(Verdict("checking", CHECKING))
            return
        self._show_verdict(fit_verdict(self.model, self.file(), self.with_mmproj(),
                                       self._hardware))

    def _show_verdict(self, verdict: Verdict) -> None:
        self.verdict.setText(verdict.text)
        self.verdict.setToolTip(verdict.detail)
        _restyle(self.verdict, "kind", verdict.kind)

    def _on_file_chosen(self, _index: int) -> None:
        self._user_chose = True
        self._refresh()

    def _on_vision_clicked(self) -> None:
        self._user_chose = True
        self._refresh()

    def _on_flow_changed(self) -> None:
        """The files in use cannot change under a download: lock the choice meanwhile."""
        locked = self.flow.busy
        for widget in (self.combo, self.vision):
            widget.setEnabled(not locked)
            widget.setToolTip("Cancel the download to choose another version." if locked else "")
        if self._was_busy and not locked:
            self._rescan()  # files came or went: choosing another version must know it
        self._was_busy = locked

    def _rescan(self) -> None:
        self._runner.run(scan_models_dir, self._models_dir, self.file_names(), self._registry,
                         on_done=self._on_rescanned, on_error=self._on_rescan_failed)

    def _on_rescanned(self, disk: DiskState) -> None:
        if not gone(self):
            self.set_disk(disk)

    def _on_rescan_failed(self, exc: BaseException) -> None:
        # The card keeps what it knew; the next download or Use reports a real problem.
        log.warning("models folder scan failed: %s", type(exc).__name__)


# Section 2: a model from Hugging Face, and the token


class HuggingFaceBox(QFrame):
    """Repository and file fields with a download, then the Hugging Face token row.

    Threading: GUI thread only; keyring calls run on the TaskRunner. Signals: `ready(entry)`.
    """

    ready = Signal(object)

    def __init__(self, runner: TaskRunner, downloads: DownloadManager, registry: ModelRegistry,
                 tokens: TokenStore, models_dir: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("LibraryCard")
        self._runner = runner
        self._tokens = tokens
        column = QVBoxLayout(self)
        column.setContentsMargins(20, 16, 20, 16)
        column.setSpacing(10)
        column.addLayout(self._build_fields())
        self.panel = DownloadPanel()
        column.addWidget(self.panel)
        self.flow = DownloadFlow(runner, downloads, registry, models_dir, self.panel,
                                 installed_text="✓ Added to your models", parent=self)
        self.flow.idle_text = "Saved in this computer's models folder."
        self.flow.set_steps([], None)
        self.flow.changed.connect(self._on_flow_changed)
        self.flow.ready.connect(self.ready)
        # The panel's Download first checks the fields; the flow must not start on its own.
        self.panel.download_clicked.disconnect(self.flow.start)
        self.panel.download_clicked.connect(self._on_download)
        rule = QFrame()
        rule.setObjectName("LibraryRule")
        rule.setFixedHeight(1)
        column.addSpacing(6)
        column.addWidget(rule)
        column.addSpacing(6)
        column.addLayout(self._build_token_row())
        self._token_busy(True)
        runner.run(tokens.status, on_done=self._on_token_status,
                   on_error=self._on_token_failed)

    def _build_fields(self) -> QGridLayout:
        grid = QGridLayout()
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(6)
        self.repo_edit = QLineEdit()
        self.repo_edit.setPlaceholderText("owner/name, e.g. unsloth/gemma-4-E4B-it-GGUF")
        self.file_edit = QLineEdit()
        self.file_edit.setPlaceholderText("e.g. gemma-4-E4B-it-Q4_K_M.gguf")
        self.repo_error = _label("", "FieldError")
        self.file_error = _label("", "FieldError")
        for row, (text, edit, error) in enumerate(
            (("Repository", self.repo_edit, self.repo_error),
             ("File name", self.file_edit, self.file_error))
        ):
            grid.addWidget(_label(text, "LibraryFieldLabel", wrap=False), 2 * row, 0)
            grid.addWidget(edit, 2 * row, 1)
            grid.addWidget(error, 2 * row + 1, 1)
            error.hide()
            edit.textEdited.connect(self._on_fields_edited)
            edit.returnPressed.connect(self._on_download)
        grid.setColumnStretch(1, 1)
        return grid

    def _build_token_row(self) -> QVBoxLayout:
        column = QVBoxLayout()
        column.setSpacing(8)
        column.addWidget(_label("Hugging Face token", "LibrarySubheading", wrap=False))
        column.addWidget(_label(
            "Only needed for gated or private models. Create one with read access on "
            "huggingface.co under Settings → Access Tokens, then paste it here.",
            "LibraryCardText",
        ))
        row = QHBoxLayout()
        row.setSpacing(8)
        self.token_edit = QLineEdit()
        self.token_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.token_edit.setPlaceholderText("hf_…")
        self.token_edit.returnPressed.connect(self._on_token_save)
        row.addWidget(self.token_edit, 1)
        self.token_save = _button("Save")
        self.token_save.clicked.connect(self._on_token_save)
        row.addWidget(self.token_save)
        self.token_forget = _button("Forget")
        self.token_forget.clicked.connect(self._on_token_forget)
        row.addWidget(self.token_forget)
        column.addLayout(row)
        self.token_status = _label("Checking where the token is kept…", "TokenStatus")
        column.addWidget(self.token_status)
        return column

    # The download

    def follow(self, key: str, progress: Progress | None) -> None:
        """A download this section started in an earlier window is running: show it."""
        owner, name, filename = [*key.split("/", 2), "", ""][:3]
        self.repo_edit.setText(f"{owner}/{name}")
        self.file_edit.setText(filename)
        self.flow.set_steps([Step(f"{owner}/{name}", filename)], None)
        self.flow.follow(key, progress)

    def _on_download(self) -> None:
        self.flow.reset()
        if self.flow.state != "idle":
            return  # busy downloading
        repo, filename, repo_problem, file_problem = check_hf_input(
            self.repo_edit.text(), self.file_edit.text()
        )
        self._show_field_error(self.repo_error, repo_problem)
        self._show_field_error(self.file_error, file_problem)
        if repo_problem or file_problem:
            (self.repo_edit if repo_problem else self.file_edit).setFocus()
            return
        self.repo_edit.setText(repo)
        self.file_edit.setText(filename)
        self.flow.set_steps([Step(repo, filename)], None)
        self.flow.start()

    def _on_fields_edited(self) -> None:
        for error in (self.repo_error, self.file_error):
            self._show_field_error(error, "")
        # Another file now: a .part of the old one stays, and typing it again resumes it.
        self.flow.reset()

    @staticmethod
    def _show_field_error(label: QLabel, text: str) -> None:
        label.setText(text)
        label.setVisible(bool(text))

    def _on_flow_changed(self) -> None:
        working = self.flow.state in ("downloading", "pausing", "cancelling", "installing")
        for edit in (self.repo_edit, self.file_edit):
            edit.setReadOnly(working)

    # The token: the keyring can be slow or locked, so every call runs on the runner

    def _on_token_save(self) -> None:
        token = self.token_edit.text()
        if not token.strip():
            self._show_token_status("Paste the token first, then choose Save.", warn=True)
            return
        self._token_busy(True)
        self._runner.run(self._tokens.set, token, on_done=self._on_token_saved,
                         on_error=self._on_token_failed)

    def _on_token_forget(self) -> None:
        self._token_busy(True)
        self._runner.run(_forget_token, self._tokens, on_done=self._on_token_status,
                         on_error=self._on_token_failed)

    def _on_token_saved(self, status: TokenStatus) -> None:
        if gone(self):
            return
        self.token_edit.clear()
        self._on_token_status(status)

    def _on_token_status(self, status: TokenStatus) -> None:
        if gone(self):
            return
        self._token_busy(False)
        self._show_token_status(status.message, warn=not status.persistent)

    def _on_token_failed(self, exc: BaseException) -> None:
        if gone(self):
            return
        self._token_busy(False)
        # Only our own messages: a keyring's error text could echo what it was given.
        text = str(exc) if isinstance(exc, UserError) else "The token could not be changed."
        self._show_token_status(text, warn=True)

    def _show_token_status(self, text: str, *, warn: bool) -> None:
        self.token_status.setText(text)
        _restyle(self.token_status, "kind", "warning" if warn else "")

    def _token_busy(self, busy: bool) -> None:
        for widget in (self.token_save, self.token_forget):
            widget.setEnabled(not busy)


def _forget_token(tokens: TokenStore) -> TokenStatus:
    """Clear the token, then say where things stand (worker thread)."""
    tokens.clear()
    return tokens.status()


# Section 3: GGUFs other tools downloaded


class FoundRow(QFrame):
    """One GGUF found on disk: name, where, size, and Use (it stays where it lies).

    Threading: GUI thread only. Signals: `use_clicked(FoundRow)`.
    """

    use_clicked = Signal(object)

    def __init__(self, model: FoundModel, registered: bool,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("LibraryRow")
        self.model = model
        self.setToolTip(str(model.path))
        column = QVBoxLayout(self)
        column.setContentsMargins(16, 10, 12, 10)
        column.setSpacing(6)
        row = QHBoxLayout()
        row.setSpacing(12)
        words = QVBoxLayout()
        words.setSpacing(2)
        self.name = _label(model.name, "LibraryRowName")
        where = SOURCE_NAMES.get(model.source, model.source)
        self.detail = _label(f"{where} · {format_size(model.size)}", "LibraryRowDetail")
        words.addWidget(self.name)
        words.addWidget(self.detail)
        row.addLayout(words, 1)
        self.added = _label("✓ Added", "LibraryAdded", wrap=False)
        self.added.setVisible(registered)
        row.addWidget(self.added, 0, Qt.AlignmentFlag.AlignVCenter)
        self.use_button = _button("Use", primary=True)
        self.use_button.clicked.connect(lambda: self.use_clicked.emit(self))
        row.addWidget(self.use_button, 0, Qt.AlignmentFlag.AlignVCenter)
        column.addLayout(row)
        self.error = _label("", "InlineError")
        self.error.hide()
        column.addWidget(self.error)
        self.setAccessibleName(model.name)

    def set_busy(self, busy: bool) -> None:
        """While it is being checked and added."""
        self.use_button.setEnabled(not busy)
        self.use_button.setText("Adding…" if busy else "Use")
        if busy:
            self.error.hide()

    def set_added(self) -> None:
        """It is in the model list now."""
        self.set_busy(False)
        self.added.show()

    def set_error(self, text: str) -> None:
        """Why it could not be added."""
        self.set_busy(False)
        self.error.setText(text)
        self.error.show()


class FoundList(QWidget):
    """The GGUFs other tools downloaded, looked for on the runner.

    Threading: GUI thread only. Signals: `ready(entry)` when one was added and can be used.
    """

    ready = Signal(object)

    def __init__(self, runner: TaskRunner, registry: ModelRegistry, locations: LocationsFn,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runner = runner
        self._registry = registry
        self._locations = locations
        self._column = QVBoxLayout(self)
        self._column.setContentsMargins(0, 0, 0, 0)
        self._column.setSpacing(8)
        self.status = _label("", "LibraryNote")
        self._column.addWidget(self.status)
        self.rows: list[FoundRow] = []
        self.refresh()

    def refresh(self) -> None:
        """Look again."""
        self.status.setText("Looking for GGUF files on this computer…")
        _restyle(self.status, "kind", "")
        self.status.show()
        self._runner.run(find_models, self._locations, self._registry,
                         on_done=self._on_found, on_error=self._on_failed)

    def _on_found(self, found: list[tuple[FoundModel, bool]]) -> None:
        if gone(self):
            return
        for row in self.rows:
            self._column.removeWidget(row)
            row.hide()
            row.deleteLater()
        self.rows = []
        for model, registered in found:
            row = FoundRow(model, registered)
            row.use_clicked.connect(self._on_use)
            self.rows.append(row)
            self._column.addWidget(row)
        self.status.setText(NOTHING_FOUND)
        self.status.setVisible(not found)

    def _on_failed(self, exc: BaseException) -> None:
        if gone(self):
            return
        self.status.setText(error_text(exc, "looking for model files"))
        _restyle(self.status, "kind", "error")
        self.status.show()

    def _on_use(self, row: FoundRow) -> None:
        row.set_busy(True)
        self._runner.run(
            self._registry.add_local, row.model.path,
            on_done=lambda entry: self._on_added(row, entry),
            on_error=lambda exc: self._on_add_failed(row, exc),
        )

    def _on_added(self, row: FoundRow, entry: ModelEntry) -> None:
        if gone(self):
            return
        if not gone(row):  # "Look again" may have replaced the row meanwhile
            row.set_added()
        self.ready.emit(entry)

    def _on_add_failed(self, row: FoundRow, exc: BaseException) -> None:
        if gone(self) or gone(row):
            return
        row.set_error(error_text(exc, "adding the model"))


# The dialog


class ModelLibraryDialog(QDialog):
    """Get and manage models: Gemma 4 downloads, any GGUF from Hugging Face, files on disk.

    Closing it does not stop a download: the DownloadManager belongs to the window, and a new
    library shows the running download's progress. While this object lives (shown or hidden)
    it carries a download on to the end: the image part after the model, then registration,
    then `model_ready`.

    Threading: GUI thread only. The hardware check, the models-folder scan, registering, the
    search of other tools' folders and keyring calls run on the TaskRunner; the bytes come
    from the DownloadManager's worker. Signals: `model_ready(ModelEntry)` when a model is
    ready to use (downloaded, checked and registered, or an existing file chosen with Use).
    """

    model_ready = Signal(object)

    def __init__(self, runner: TaskRunner, downloads: DownloadManager, registry: ModelRegistry,
                 tokens: TokenStore, models_dir: Path, parent: QWidget | None = None, *,
                 check: CheckFn = check_machine,
                 locations: LocationsFn = default_locations,
                 catalog: Sequence[CatalogModel] | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ModelLibrary")
        self.setWindowTitle("Models")
        self.resize(860, 760)
        self._runner = runner
        self._downloads = downloads
        self._registry = registry
        self._models_dir = models_dir
        models = load_catalog() if catalog is None else catalog
        self.cards: dict[str, ModelCard] = {}

        page = QWidget()
        page.setObjectName("LibraryPage")
        self.page = page
        column = QVBoxLayout(page)
        column.setContentsMargins(32, 28, 32, 28)
        column.setSpacing(12)
        column.addWidget(_label("Models", "WizardTitle"))
        column.addWidget(_label(
            "Get a Gemma 4 model, add any GGUF model from Hugging Face, or use a model file "
            "that is already on this computer. Once downloaded, everything runs offline.",
            "WizardLead",
        ))
        self._section(column, "Gemma 4 models",
                      "Whether each model fits is measured against this computer's free "
                      "memory, for chats of about 8,000 tokens.")
        for model in models:
            if model.rung not in GEMMA4_RUNGS:
                continue
            card = ModelCard(model, runner, downloads, registry, models_dir)
            card.ready.connect(self.model_ready)
            self.cards[model.id] = card
            column.addWidget(card)
        self._section(column, "Add a model from Hugging Face",
                      "Any GGUF model file from a Hugging Face repository. Gemma 4 works best; "
                      "other models may need a newer app version to run.")
        self.hugging_face = HuggingFaceBox(runner, downloads, registry, tokens, models_dir)
        self.hugging_face.ready.connect(self.model_ready)
        column.addWidget(self.hugging_face)
        look_again = QPushButton("Look again")
        look_again.setProperty("flat", True)
        look_again.setCursor(Qt.CursorShape.PointingHandCursor)
        self._section(column, "Models already on this computer",
                      "Model files other apps downloaded. They are used where they are, "
                      "without a copy.", look_again)
        self.found = FoundList(runner, registry, locations)
        self.found.ready.connect(self.model_ready)
        look_again.clicked.connect(self.found.refresh)
        column.addWidget(self.found)
        column.addStretch(1)

        scroll = QScrollArea()
        scroll.setObjectName("LibraryScroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(page)
        self.scroll = scroll
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(scroll, 1)
        layout.addWidget(self._build_footer())

        self._follow_active()
        names = [name for card in self.cards.values() for name in card.file_names()]
        runner.run(scan_models_dir, models_dir, names, registry, on_done=self._on_scanned,
                   on_error=self._on_scan_failed)
        runner.run(check, models_dir, on_done=self._on_checked, on_error=self._on_check_failed)

    def _section(self, column: QVBoxLayout, title: str, lead: str,
                 extra: QWidget | None = None) -> None:
        column.addSpacing(16)
        row = QHBoxLayout()
        row.addWidget(_label(title, "LibrarySection", wrap=False))
        row.addStretch(1)
        if extra is not None:
            row.addWidget(extra)
        column.addLayout(row)
        column.addWidget(_label(lead, "LibraryNote"))
        column.addSpacing(4)

    def _build_footer(self) -> QWidget:
        footer = QFrame()
        footer.setObjectName("LibraryFooter")
        row = QHBoxLayout(footer)
        row.setContentsMargins(32, 12, 32, 16)
        row.addStretch(1)
        self.close_button = _button("Close", width=110)
        self.close_button.clicked.connect(self.reject)
        row.addWidget(self.close_button)
        footer.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        return footer

    def _follow_active(self) -> None:
        """Show the download the window is running, from a library opened before this one."""
        key = self._downloads.active()
        if key is None:
            return
        progress = self._downloads.last_progress(key)
        for card in self.cards.values():
            if key in card.download_keys():
                card.follow(key, progress)
                return
        self.hugging_face.follow(key, progress)

    def _on_scanned(self, disk: DiskState) -> None:
        if gone(self):
            return
        for card in self.cards.values():
            card.set_disk(disk)

    def _on_scan_failed(self, exc: BaseException) -> None:
        if gone(self):
            return
        log.warning("models folder scan failed: %s", type(exc).__name__)
        self._on_scanned(DiskState())

    def _on_checked(self, result: tuple[Any, Any, Any]) -> None:
        if gone(self):
            return
        hardware, _models, recommendation = result
        for card in self.cards.values():
            card.set_machine(hardware, recommendation)

    def _on_check_failed(self, exc: BaseException) -> None:
        if gone(self):
            return
        for card in self.cards.values():
            card.set_check_failed(str(exc))
