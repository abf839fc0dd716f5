"""The model combo box: installed models plus an 'Open GGUF…' entry."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QPaintEvent
from PySide6.QtWidgets import QComboBox, QStyle, QStyleOptionComboBox, QStylePainter, QWidget

OPEN_GGUF = "__open_gguf__"
CHECK_FIT = "__check_fit__"
LIBRARY = "__library__"
LOADING = "Loading models…"
# Wide enough for most model names; longer ones are shortened in the middle, where
# names carry the least (the family at the start and the variant at the end stay).
MIN_WIDTH = 240
MAX_WIDTH = 520
MAX_MIN_WIDTH = 400


def _format_size(size: int) -> str:
    """'253 MB' / '4.1 GB'."""
    if size >= 1 << 30:
        return f"{size / (1 << 30):.1f} GB"
    return f"{size / (1 << 20):.0f} MB"


class ModelPicker(QComboBox):
    """Lists ModelEntry objects; choosing one asks to load it.

    The closed box elides a long name in the middle and shows it whole in its tooltip;
    the open list is as wide as the longest name.

    Threading: GUI thread only. Signals: `model_chosen(str)` with a model id,
    `open_gguf_requested()` when the 'Open GGUF…' entry is chosen, `fit_requested()` for
    'Which model fits this computer?…', `library_requested()` for 'Download or add models…'.
    """

    model_chosen = Signal(str)
    open_gguf_requested = Signal()
    fit_requested = Signal()
    library_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumWidth(MIN_WIDTH)
        self.setMaximumWidth(MAX_WIDTH)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self._current: str | None = None
        self._updating = False
        self.activated.connect(self._on_activated)
        self.currentIndexChanged.connect(self._on_current_index_changed)
        self.set_loading()

    def set_loading(self) -> None:
        """Until the model list arrives: say so (not "No model installed")."""
        self._updating = True
        self.clear()
        self.addItem(LOADING, None)
        self.setItemData(0, "Looking for installed models…", Qt.ItemDataRole.ToolTipRole)
        self._updating = False
        self._on_current_index_changed(0)

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
            tip = f"{label}\n{entry.path}\n{_format_size(entry.size_bytes)}"
            if getattr(entry, "description", ""):
                tip += f"\n{entry.description}"
            self.setItemData(index, tip, Qt.ItemDataRole.ToolTipRole)
        if not entries:
            self.addItem("No model installed", None)
        self.insertSeparator(self.count())
        self.addItem("Download or add models…", LIBRARY)
        self.setItemData(self.count() - 1, "Download Gemma 4 models, add a file from Hugging "
                         "Face, or use GGUFs already on this computer",
                         Qt.ItemDataRole.ToolTipRole)
        self.addItem("Open GGUF…", OPEN_GGUF)
        self.setItemData(self.count() - 1, "Add a GGUF model file from this computer",
                         Qt.ItemDataRole.ToolTipRole)
        self.addItem("Which model fits this computer?…", CHECK_FIT)
        self.setItemData(self.count() - 1, "Memory each Gemma 4 model needs here, and the one "
                         "recommended for this computer", Qt.ItemDataRole.ToolTipRole)
        metrics = self.fontMetrics()
        widest = max((metrics.horizontalAdvance(self.itemText(i)) for i in range(self.count())),
                     default=0)
        self.view().setMinimumWidth(widest + 48)
        self._current = current_id
        self._select(current_id)
        self._updating = False
        self._on_current_index_changed(self.currentIndex())
        # Room for the whole current name (plus padding and arrow) up to MAX_WIDTH.
        wanted = metrics.horizontalAdvance(self.currentText()) + 64
        # The minimum stays modest so the header (and the window) never has to grow for it.
        self.setMinimumWidth(max(MIN_WIDTH, min(MAX_MIN_WIDTH, wanted)))

    def current_id(self) -> str | None:
        """The selected model's id."""
        return self._current

    def displayed_text(self) -> str:
        """The text drawn in the closed box (elided in the middle when too long)."""
        option = QStyleOptionComboBox()
        self.initStyleOption(option)
        field = self.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, option,
                                            QStyle.SubControl.SC_ComboBoxEditField, self)
        return self.fontMetrics().elidedText(self.currentText(), Qt.TextElideMode.ElideMiddle,
                                             max(0, field.width() - 8))

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QStylePainter(self)
        option = QStyleOptionComboBox()
        self.initStyleOption(option)
        painter.drawComplexControl(QStyle.ComplexControl.CC_ComboBox, option)
        option.currentText = self.displayed_text()
        painter.drawControl(QStyle.ControlElement.CE_ComboBoxLabel, option)

    def _select(self, model_id: str | None) -> None:
        index = self.findData(model_id) if model_id is not None else 0
        self.setCurrentIndex(max(0, index))

    @Slot(int)
    def _on_current_index_changed(self, index: int) -> None:
        tip = self.itemData(index, Qt.ItemDataRole.ToolTipRole) if index >= 0 else None
        self.setToolTip(str(tip) if tip else
                        "The model that answers; choose Open GGUF… to add a model file")

    @Slot(int)
    def _on_activated(self, index: int) -> None:
        if self._updating:
            return
        data = self.itemData(index)
        if data == OPEN_GGUF:
            self._select(self._current)  # keep showing the loaded model
            self.open_gguf_requested.emit()
        elif data == CHECK_FIT:
            self._select(self._current)
            self.fit_requested.emit()
        elif data == LIBRARY:
            self._select(self._current)
            self.library_requested.emit()
        elif data is not None and data != self._current:
            self._current = data
            self.model_chosen.emit(data)
