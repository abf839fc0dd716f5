"""The model combo box: installed models plus an 'Open GGUF…' entry."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QComboBox, QWidget

OPEN_GGUF = "__open_gguf__"


def _format_size(size: int) -> str:
    """'253 MB' / '4.1 GB'."""
    if size >= 1 << 30:
        return f"{size / (1 << 30):.1f} GB"
    return f"{size / (1 << 20):.0f} MB"


class ModelPicker(QComboBox):
    """Lists ModelEntry objects; choosing one asks to load it.

    Threading: GUI thread only. Signals: `model_chosen(str)` with a model id,
    `open_gguf_requested()` when the 'Open GGUF…' entry is chosen.
    """

    model_chosen = Signal(str)
    open_gguf_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumWidth(280)
        self.setMaximumWidth(460)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.setToolTip("The model that answers; choose Open GGUF… to add a model file")
        self._current: str | None = None
        self._updating = False
        self.activated.connect(self._on_activated)
        self.set_entries([], None)

    def set_entries(self, entries: list[Any], current_id: str | None) -> None:
        """Fill the list; `current_id` is shown as selected."""
        self._updating = True
        self.clear()
        for entry in entries:
            label = entry.display_name
            if not entry.available:
                label += " (file missing)"
            self.addItem(label, entry.id)
            index = self.count() - 1
            tip = f"{entry.path}\n{_format_size(entry.size_bytes)}"
            if getattr(entry, "description", ""):
                tip += f"\n{entry.description}"
            self.setItemData(index, tip, role=3)  # Qt.ToolTipRole
        if not entries:
            self.addItem("No model installed", None)
        self.insertSeparator(self.count())
        self.addItem("Open GGUF…", OPEN_GGUF)
        self._current = current_id
        self._select(current_id)
        self._updating = False

    def current_id(self) -> str | None:
        """The selected model's id."""
        return self._current

    def _select(self, model_id: str | None) -> None:
        index = self.findData(model_id) if model_id is not None else 0
        self.setCurrentIndex(max(0, index))

    @Slot(int)
    def _on_activated(self, index: int) -> None:
        if self._updating:
            return
        data = self.itemData(index)
        if data == OPEN_GGUF:
            self._select(self._current)  # keep showing the loaded model
            self.open_gguf_requested.emit()
        elif data is not None and data != self._current:
            self._current = data
            self.model_chosen.emit(data)
