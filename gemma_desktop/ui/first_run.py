"""The first-run wizard: check this computer, get a model (download, starter or own file), go."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from gemma_desktop.core.discover import (
    HF_CACHE,
    LM_STUDIO,
    FoundModel,
    default_locations,
    find_ggufs,
)
from gemma_desktop.core.download import Progress
from gemma_desktop.core.fit import Recommendation
from gemma_desktop.ui.download_manager import DownloadManager, download_key
from gemma_desktop.ui.hardware_dialog import CheckFn, check_machine
from gemma_desktop.ui.hardware_view import HardwareView
from gemma_desktop.ui.plain_label import plain_label
from gemma_desktop.ui.workers import TaskRunner

log = logging.getLogger(__name__)
SOURCE_NAMES = {HF_CACHE: "the Hugging Face cache", LM_STUDIO: "LM Studio"}
PAGES = ("check", "download", "ready")
PERMILLE = 1000  # the bar counts in thousandths: byte counts overflow its int range


def format_size(n: int) -> str:
    """A byte count the way download sites show it: 123 MB, 5.3 GB."""
    if n >= 1_000_000_000:
        return f"{n / 1e9:.1f} GB"
    if n < 10_000_000:
        return f"{n / 1e6:.1f} MB"
    return f"{n / 1e6:.0f} MB"


def format_eta(seconds: float | None) -> str:
    """Time left in plain words."""
    if seconds is None:
        return "working out the time left"
    if seconds < 60:
        return "less than a minute left"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"about {minutes} min left"
    return f"about {minutes // 60} h {minutes % 60} min left"


def progress_text(progress: Progress) -> str:
    """"123 MB of 5.3 GB · 12.3 MB/s · about 7 min left"."""
    parts = [f"{format_size(progress.done)} of {format_size(progress.total)}"]
    if progress.bytes_per_s > 0:
        parts.append(f"{progress.bytes_per_s / 1e6:.1f} MB/s")
        parts.append(format_eta(progress.eta_s))
    return " · ".join(parts)


_label = partial(plain_label, wrap=True)


class ChoiceButton(QPushButton):
    """A big, checkable button used like a radio button: a bold title over a quiet detail."""

    def __init__(self, title: str, detail: str) -> None:
        super().__init__()
        self.setObjectName("WizardChoice")
        self.setCheckable(True)
        self.setMinimumHeight(64)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        column = QVBoxLayout(self)
        column.setContentsMargins(18, 10, 18, 10)
        column.setSpacing(2)
        self.title = _label("", "ChoiceTitle", wrap=False)
        self.detail = _label("", "ChoiceDetail")
        for label in (self.title, self.detail):
            # Clicks on the words must reach the button.
            label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
            column.addWidget(label)
        self.set_texts(title, detail)

    def sizeHint(self) -> QSize:
        """As big as the two lines need: QPushButton alone only measures its own text."""
        return self.layout().sizeHint().expandedTo(QSize(0, self.minimumHeight()))

    def minimumSizeHint(self) -> QSize:
        """Never squeeze the two lines."""
        return self.sizeHint()

    def set_texts(self, title: str, detail: str) -> None:
        """Change both lines; the accessible name reads them together."""
        self.title.setText(title)
        self.detail.setText(detail)
        self.setAccessibleName(f"{title}. {detail}")


def _primary(text: str) -> QPushButton:
    button = QPushButton(text)
    button.setProperty("primary", True)
    button.setObjectName("WizardPrimary")
    button.setMinimumHeight(36)
    return button


class FirstRunWizard(QDialog):
    """Three pages: check this computer and choose, download, ready.

    Threading: GUI thread only. The probe, registering a file and preparing the starter run
    on the TaskRunner; the download runs in the DownloadManager's worker.
    """

    def __init__(self, runner: TaskRunner, downloads: DownloadManager, models_dir: Path,
                 register: Callable[[Path], Any], use_starter: Callable[[], Any],
                 parent: QWidget | None = None, *, check: CheckFn = check_machine,
                 pick_file: Callable[[], Path | None] | None = None,
                 locations: Callable[[], list[tuple[str, Path]]] = default_locations) -> None:
        super().__init__(parent)
        self.setObjectName("FirstRunWizard")
        self.setWindowTitle("Welcome to Gemma Desktop")
        self.resize(820, 780)
        self._runner = runner
        self._downloads = downloads
        self._register = register
        self._use_starter = use_starter
        # Not `pick_file or self._ask_for_file`: a bound method kept on self is a reference
        # cycle, and the cycle collector may then destroy the dialog inside a paint event.
        self._pick_file = pick_file
        self._recommendation: Recommendation | None = None
        self._key: str | None = None
        self._busy = False
        self._downloaded: Path | None = None  # verified but not registered yet
        self._projector: Path | None = None  # the verified vision projector, when there is one
        self._mmproj_key: str | None = None
        self._ready_name: str | None = None  # the catalog name, when the model was downloaded
        self.chosen_entry: Any = None

        self._stack = QStackedWidget()
        self._stack.addWidget(self._build_check_page())
        self._stack.addWidget(self._build_download_page())
        self._stack.addWidget(self._build_ready_page())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(28, 24, 28, 20)
        layout.addWidget(self._stack)

        downloads.progressed.connect(self._on_progress)
        downloads.finished.connect(self._on_downloaded)
        downloads.failed.connect(self._on_download_failed)
        downloads.paused.connect(self._on_paused)
        runner.run(check, models_dir, on_done=self._on_checked, on_error=self._on_check_failed)
        runner.run(lambda: find_ggufs(locations()), on_done=self._on_found,
                   on_error=lambda exc: log.warning("looking for GGUF files failed: %s", exc))

    # Pages

    def _build_check_page(self) -> QWidget:
        page = QWidget()
        column = QVBoxLayout(page)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(10)
        column.addWidget(_label("Welcome to Gemma Desktop", "WizardTitle"))
        self.check_label = _label("Checking this computer…", "WizardLead")
        column.addWidget(self.check_label)
        column.addSpacing(6)
        self.view = HardwareView()
        scroll = QScrollArea()
        scroll.setObjectName("WizardScroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self.view)
        column.addWidget(scroll, 1)
        column.addSpacing(6)
        column.addWidget(_label("How do you want to start?", "WizardSection"))
        self.download_button = ChoiceButton("Download the recommended model",
                                            "Checking this computer…")
        self.download_button.setEnabled(False)
        self.starter_button = ChoiceButton(
            "Use the small starter model",
            "Works offline right now. Good for trying the app; answers are simpler.",
        )
        self.existing_button = ChoiceButton(
            "Use a GGUF file I already have…", "Pick a model file that is on this computer."
        )
        # GGUFs other apps downloaded (Hugging Face cache, LM Studio), used where they lie.
        self.found_list = QComboBox()
        self.found_list.setObjectName("WizardFound")
        self.found_list.setAccessibleName("Model files found on this computer")
        self.found_list.hide()
        self.choice_error = _label("", "InlineError")
        self.choice_error.hide()
        self._choices = QButtonGroup(self)
        for button in (self.download_button, self.starter_button, self.existing_button):
            self._choices.addButton(button)
            column.addWidget(button)
            button.toggled.connect(self._on_choice_changed)
        column.addWidget(self.found_list)
        self.starter_button.setChecked(True)
        column.addWidget(self.choice_error)
        row = QHBoxLayout()
        row.addStretch(1)
        self.next_button = _primary("Continue")
        self.next_button.setDefault(True)
        self.next_button.clicked.connect(self._on_next)
        row.addWidget(self.next_button)
        column.addLayout(row)
        return page

    def _build_download_page(self) -> QWidget:
        page = QWidget()
        column = QVBoxLayout(page)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(14)
        column.addStretch(1)
        self.download_title = _label("Downloading", "WizardTitle")
        column.addWidget(self.download_title)
        column.addWidget(_label(
            "The model is saved on this computer. After this, everything works without the "
            "internet. You can pause and carry on later; nothing downloaded is lost.",
            "WizardLead",
        ))
        self.progress_bar = QProgressBar()
        self.progress_bar.setObjectName("WizardProgress")
        self.progress_bar.setRange(0, PERMILLE)
        self.progress_bar.setTextVisible(False)
        self.progress_bar.setFixedHeight(12)
        column.addWidget(self.progress_bar)
        self.status_label = _label("Connecting…", "WizardStatus")
        column.addWidget(self.status_label)
        self.error_label = _label("", "InlineError")
        self.error_label.hide()
        column.addWidget(self.error_label)
        row = QHBoxLayout()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setMinimumSize(110, 36)
        self.cancel_button.clicked.connect(self._on_cancel_download)
        row.addWidget(self.cancel_button)
        row.addStretch(1)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setMinimumSize(110, 36)
        self.pause_button.clicked.connect(self._on_pause_clicked)
        row.addWidget(self.pause_button)
        self.retry_button = _primary("Retry")
        self.retry_button.setMinimumWidth(110)
        self.retry_button.clicked.connect(self._on_retry)
        self.retry_button.hide()
        row.addWidget(self.retry_button)
        column.addLayout(row)
        column.addStretch(2)
        return page

    def _build_ready_page(self) -> QWidget:
        page = QWidget()
        column = QVBoxLayout(page)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(14)
        column.addStretch(1)
        mark = _label("✓", "WizardDone", wrap=False)
        mark.setAlignment(Qt.AlignmentFlag.AlignCenter)
        column.addWidget(mark)
        self.ready_label = _label("The model is ready.", "WizardTitle")
        self.ready_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        column.addWidget(self.ready_label)
        hint = _label(
            "It runs on this computer: your chats and files stay here. You can add or change "
            "models later from the model menu.", "WizardLead",
        )
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint.setMaximumWidth(520)
        column.addWidget(hint, 0, Qt.AlignmentFlag.AlignHCenter)
        row = QHBoxLayout()
        row.addStretch(1)
        self.start_button = _primary("Start chatting")
        self.start_button.setMinimumWidth(200)
        self.start_button.clicked.connect(self.accept)
        row.addWidget(self.start_button)
        row.addStretch(1)
        column.addSpacing(8)
        column.addLayout(row)
        column.addStretch(2)
        return page

    def page_name(self) -> str:
        """Which page shows: "check", "download" or "ready"."""
        return PAGES[self._stack.currentIndex()]

    def _show_page(self, name: str) -> None:
        self._stack.setCurrentIndex(PAGES.index(name))

    # Page 1: the check and the choice

    def _on_checked(self, result: tuple[Any, Any, Any]) -> None:
        hardware, models, recommendation = result
        self.view.show_machine(hardware, models, recommendation)
        self._recommendation = recommendation
        if recommendation is None:
            self.check_label.setText(
                "None of the Gemma 4 models fits in this computer's free memory, so the small "
                "starter model is the way to begin."
            )
            self.download_button.set_texts(
                "Download a Gemma 4 model", "None fits in this computer's free memory."
            )
            return
        name, size = recommendation.model.name, format_size(recommendation.file.size)
        self.check_label.setText(recommendation.reason)
        self.download_button.set_texts(
            f"Download {name} ({size})",
            "Recommended for this computer. Needs the internet once, for the download.",
        )
        self.download_button.setEnabled(True)
        self.download_button.setChecked(True)

    def _on_check_failed(self, exc: BaseException) -> None:
        self.check_label.setText(
            f"This computer could not be checked ({exc}). You can still start with the "
            "starter model or a model file you have."
        )
        self.download_button.set_texts("Download a Gemma 4 model",
                                       "Not available: this computer could not be checked.")

    def _on_found(self, found: list[FoundModel]) -> None:
        if not found:
            return
        where = sorted({SOURCE_NAMES.get(item.source, item.source) for item in found})
        count = f"{len(found)} model file{'s' if len(found) != 1 else ''}"
        self.existing_button.set_texts(
            "Use a GGUF file I already have",
            f"Found {count} in {' and '.join(where)}; used where they are, not copied.",
        )
        self.found_list.clear()
        for item in found:
            self.found_list.addItem(f"{item.name}  ·  {format_size(item.size)}", item.path)
            self.found_list.setItemData(self.found_list.count() - 1, str(item.path),
                                        Qt.ItemDataRole.ToolTipRole)
        self.found_list.addItem("Choose another file…", None)
        self._on_choice_changed()

    def _on_choice_changed(self) -> None:
        self.choice_error.hide()
        self.found_list.setVisible(self.existing_button.isChecked()
                                   and self.found_list.count() > 0)

    def _on_next(self) -> None:
        if self._busy:
            return
        self._ready_name = None
        if self.download_button.isChecked() and self._recommendation is not None:
            self._start_download()
        elif self.starter_button.isChecked():
            self._set_busy(True, "Preparing the starter model…")
            self._runner.run(self._use_starter, on_done=self._on_registered,
                             on_error=self._on_register_failed)
        elif self.existing_button.isChecked():
            path = self.found_list.currentData() if self.found_list.count() else None
            if path is None:
                path = self._pick_file() if self._pick_file else self._ask_for_file()
            if path is None:
                return
            self._set_busy(True, f"Checking {path.name}…")
            self._runner.run(self._register, path, on_done=self._on_registered,
                             on_error=self._on_register_failed)

    def _ask_for_file(self) -> Path | None:
        name, _filter = QFileDialog.getOpenFileName(
            self, "Choose a model file", str(Path.home()), "GGUF model files (*.gguf)"
        )
        return Path(name) if name else None

    def _set_busy(self, busy: bool, text: str = "") -> None:
        self._busy = busy
        self.next_button.setEnabled(not busy)
        self.next_button.setText(text or "Continue")
        for button in self._choices.buttons():
            button.setEnabled(not busy and (button is not self.download_button
                                            or self._recommendation is not None))

    def _on_registered(self, entry: Any) -> None:
        self._set_busy(False)
        self.chosen_entry = entry
        name = self._ready_name or getattr(entry, "display_name", "") or "The model"
        self.ready_label.setText(f"{name} is ready.")
        self._show_page("ready")
        self.start_button.setFocus()

    def _on_register_failed(self, exc: BaseException) -> None:
        self._set_busy(False)
        if self.page_name() == "download":
            self._show_error(str(exc))
            return
        self.choice_error.setText(str(exc))
        self.choice_error.show()

    # Page 2: the download

    def _start_download(self) -> None:
        rec = self._recommendation
        assert rec is not None
        self._downloaded = None
        self._projector = None
        self._key = download_key(rec.file.repo, rec.file.file)
        # The vision projector comes from the same repo, after the model: one bar for both.
        self._mmproj_key = (download_key(rec.file.repo, rec.file.mmproj_file)
                            if rec.file.mmproj_file else None)
        total = rec.file.size + (rec.file.mmproj_size if self._mmproj_key else 0)
        self.download_title.setText(f"Downloading {rec.model.name}")
        self.progress_bar.setValue(0)
        self.status_label.setText(f"Connecting… ({format_size(total)} to download)")
        self._hide_error()
        self._show_page("download")
        self._downloads.start(self._key, rec.file.repo, rec.file.file,
                              expected_size=rec.file.size)

    def _current_key(self) -> str | None:
        """The file being fetched now: the model, then its projector."""
        if self._downloaded is not None and self._mmproj_key is not None:
            return self._mmproj_key
        return self._key

    def _on_progress(self, key: str, progress: Progress) -> None:
        rec = self._recommendation
        if rec is None or key not in (self._key, self._mmproj_key) or progress.total <= 0:
            return
        if key == self._mmproj_key:
            # Count the finished model in, so the bar and the numbers never jump back.
            progress = Progress(rec.file.size + progress.done, rec.file.size + progress.total,
                                progress.bytes_per_s, progress.eta_s)
        elif self._mmproj_key is not None:
            extra = rec.file.mmproj_size
            eta = progress.eta_s
            if eta is not None and progress.bytes_per_s > 0:
                eta += extra / progress.bytes_per_s
            progress = Progress(progress.done, progress.total + extra, progress.bytes_per_s, eta)
        self.progress_bar.setValue(progress.done * PERMILLE // progress.total)
        self.status_label.setText(progress_text(progress))

    def _on_pause_clicked(self) -> None:
        key = self._current_key()
        if key is None:
            return
        if self._downloads.active() == key:
            self._downloads.pause(key)
            self.pause_button.setEnabled(False)  # until the worker has really stopped
        else:
            self._hide_error()
            self.pause_button.setText("Pause")
            self.status_label.setText("Carrying on…")
            self._downloads.resume(key)

    def _on_paused(self, key: str) -> None:
        if key != self._current_key():
            return
        self.pause_button.setEnabled(True)
        self.pause_button.setText("Resume")
        self.status_label.setText(f"Paused. {self.status_label.text().split(' · ')[0]}")

    def _on_cancel_download(self) -> None:
        # Cancel keeps the .part file: choosing the download again carries on from there.
        key = self._current_key()
        if key is not None and self._downloads.active() == key:
            self._downloads.pause(key)
        self._hide_error()
        self.pause_button.setText("Pause")
        self.pause_button.setEnabled(True)
        self._show_page("check")

    def _on_download_failed(self, key: str, message: str) -> None:
        if key in (self._key, self._mmproj_key):
            self._show_error(message)

    def _on_retry(self) -> None:
        if self._key is None:
            return
        self._hide_error()
        self.status_label.setText("Trying again…")
        if self._downloaded is not None and (self._mmproj_key is None
                                             or self._projector is not None):
            self._register_download()  # the files are fine; only adding them failed
            return
        key = self._current_key()
        if key == self._mmproj_key and self._downloaded is not None:
            self._start_projector()
            return
        self._downloads.resume(self._key)

    def _start_projector(self) -> None:
        rec = self._recommendation
        assert rec is not None and rec.file.mmproj_file and self._mmproj_key
        self._downloads.start(self._mmproj_key, rec.file.repo, rec.file.mmproj_file,
                              expected_size=rec.file.mmproj_size or None)

    def _on_downloaded(self, key: str, path: Path) -> None:
        if key == self._key:
            self._downloaded = path
            if self._mmproj_key is not None:
                self.status_label.setText("Model checked. Now the part that reads images…")
                self._start_projector()
                return
        elif key == self._mmproj_key and self._downloaded is not None:
            self._projector = path
        else:
            return
        self.progress_bar.setValue(PERMILLE)
        self.status_label.setText("Downloaded and checked. Adding it to your models…")
        self.pause_button.setEnabled(False)
        self.cancel_button.setEnabled(False)
        self._ready_name = self._recommendation.model.name if self._recommendation else None
        self._register_download()

    def _register_download(self) -> None:
        if self._projector is not None:
            self._runner.run(self._register, self._downloaded, mmproj=self._projector,
                             on_done=self._on_registered, on_error=self._on_register_failed)
        else:
            self._runner.run(self._register, self._downloaded, on_done=self._on_registered,
                             on_error=self._on_register_failed)

    def _show_error(self, message: str) -> None:
        # The speed and time left no longer hold; keep only how far it got.
        self.status_label.setText(f"Stopped. {self.status_label.text().split(' · ')[0]}")
        self.error_label.setText(message)
        self.error_label.show()
        self.retry_button.show()
        self.pause_button.hide()
        self.cancel_button.setEnabled(True)

    def _hide_error(self) -> None:
        self.error_label.hide()
        self.retry_button.hide()
        self.pause_button.show()
        self.pause_button.setEnabled(True)

    def done(self, result: int) -> None:
        """Close the wizard; a running download is paused so its .part can be resumed later."""
        key = self._current_key()
        if key is not None and self._downloads.active() == key:
            self._downloads.pause(key)
        super().done(result)
