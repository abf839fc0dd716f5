"""A dialog with the hardware view: this computer, and which Gemma 4 model fits it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QLabel,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from gemma_desktop.ui.hardware_view import HardwareView
from gemma_desktop.ui.workers import TaskRunner

# What the wizard and the model library call to look at this computer (tests pass their own).
CheckFn = Callable[[Path], tuple[Any, Any, Any]]


def check_machine(models_dir: Path) -> tuple[Any, Any, Any]:
    """Probe this computer and pick a model (worker thread: runs nvidia-smi, reads /proc)."""
    from gemma_desktop.core.catalog import load_catalog
    from gemma_desktop.core.fit import recommend
    from gemma_desktop.core.hardware import probe

    hardware = probe(models_dir)
    models = load_catalog()
    return hardware, models, recommend(models, hardware)


class HardwareDialog(QDialog):
    """Shows the hardware view; the probe runs on a worker, so the dialog opens at once.

    Threading: GUI thread only.
    """

    def __init__(self, runner: TaskRunner, models_dir: Path,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Which model fits this computer")
        self.resize(820, 680)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 12)
        self.view = HardwareView()
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self.view)
        layout.addWidget(scroll, 1)
        self.error = QLabel()
        self.error.setObjectName("InlineError")
        self.error.setWordWrap(True)
        self.error.hide()
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        runner.run(check_machine, models_dir, on_done=self._on_checked,
                   on_error=self._on_failed)

    def _on_checked(self, result: tuple[Any, Any, Any]) -> None:
        self.view.show_machine(*result)

    def _on_failed(self, exc: BaseException) -> None:
        self.error.setText(f"This computer could not be checked: {exc}")
        self.error.show()
