"""Chips above the composer for pending attachments: name, pages and tokens, state, remove."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from gemma_desktop.ui.attachments import PendingAttachment
from gemma_desktop.ui.flow_layout import FlowLayout
from gemma_desktop.ui.status_bar import ElidedLabel

_SPINNER = "◐◓◑◒"
# How long a chip stays highlighted when its file is added again.
FLASH_MS = 900
# The widest a chip's name or detail line gets; longer text is elided (full in the tooltip).
CHIP_TEXT_WIDTH = 260


def _document_icon() -> QIcon:
    """The document glyph drawn for the app (resources/document.svg)."""
    from importlib import resources

    path = resources.files("gemma_desktop.resources").joinpath("document.svg")
    return QIcon(str(path))


def short_reason(error: str, name: str) -> str:
    """The chip's line for a failed file: the reason without the file name the chip shows."""
    for prefix in (f"{name} is ", f"{name} "):
        if error.startswith(prefix):
            rest = error[len(prefix):]
            return rest[:1].upper() + rest[1:]
    return error


class AttachmentChip(QFrame):
    """One pending document; red with the reason when it cannot be sent.

    Threading: GUI thread only. Signals: `remove_requested(int)` with the item's key.
    """

    remove_requested = Signal(int)

    def __init__(self, item: PendingAttachment, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.key = item.key
        self.setObjectName("Chip")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 4, 6)
        layout.setSpacing(8)
        self.icon = QLabel()
        self.icon.setFixedWidth(18)
        self.icon.setContentsMargins(0, 3, 0, 0)  # level with the name's first line
        # Icon, name and × share the top line whatever the length of the detail below.
        layout.addWidget(self.icon, 0, Qt.AlignmentFlag.AlignTop)
        text = QVBoxLayout()
        text.setSpacing(0)
        # Long names are shortened in the middle (start and extension stay readable).
        self.name_label = ElidedLabel(item.name, mode=Qt.TextElideMode.ElideMiddle)
        self.name_label.setObjectName("ChipName")
        # One line; a long reason is shortened here and given in full in the tooltip.
        self.detail_label = ElidedLabel(mode=Qt.TextElideMode.ElideRight)
        self.detail_label.setObjectName("ChipDetail")
        self.detail_label.setMaximumWidth(CHIP_TEXT_WIDTH)
        self.name_label.setMaximumWidth(CHIP_TEXT_WIDTH)
        text.addWidget(self.name_label)
        text.addWidget(self.detail_label)
        text.addStretch(1)
        layout.addLayout(text)
        close = QToolButton()
        close.setText("×")
        close.setProperty("flat", True)
        close.setToolTip("Remove this attachment")
        close.clicked.connect(lambda: self.remove_requested.emit(self.key))
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self._frame = 0
        self.update_from(item)

    def update_from(self, item: PendingAttachment) -> None:
        """Show the item's current state."""
        self.setProperty("state", item.state)
        self.style().unpolish(self)
        self.style().polish(self)
        for child in (self.detail_label, self.name_label):
            child.style().unpolish(child)
            child.style().polish(child)
        detail = short_reason(item.error, item.name) if item.state == "failed" else item.detail
        busy = item.state in ("reading", "counting")
        if busy:
            self.icon.setText(_SPINNER[self._frame % 4])
        elif item.state == "failed":
            self.icon.setText("⚠")
        else:
            self.icon.setPixmap(_document_icon().pixmap(16, 16))
        tips = [str(item.path)]
        if item.document is not None and item.document.warnings:
            tips += ["", *item.document.warnings]
            detail += "  ⓘ"
        if item.state == "failed":
            tips += ["", "Not sent: " + item.error]
            if item.hint:
                tips.append(item.hint)
        self.detail_label.set_full_text(detail)
        self.setToolTip("\n".join(tips))
        # The chip's tooltip, not the shortened line's, is the one to read.
        self.detail_label.setToolTip(self.toolTip())
        self.name_label.setToolTip(self.toolTip())

    def flash(self) -> None:
        """Highlight the chip briefly (the same file was added again)."""
        self._set_flash(True)
        QTimer.singleShot(FLASH_MS, self, lambda: self._set_flash(False))

    @property
    def flashing(self) -> bool:
        """True while the chip is highlighted."""
        return bool(self.property("flash"))

    def _set_flash(self, on: bool) -> None:
        self.setProperty("flash", on)
        self.style().unpolish(self)
        self.style().polish(self)

    def tick(self, item: PendingAttachment) -> None:
        """Advance the spinner (and the page count) while reading."""
        self._frame += 1
        self.update_from(item)


class AttachmentBar(QWidget):
    """A row of AttachmentChips mirroring the AttachmentManager's items.

    Threading: GUI thread only. Signals: `remove_requested(int)`.
    """

    remove_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # Chips keep their size and wrap onto more rows instead of being squeezed.
        self._layout = FlowLayout(self, spacing=8)
        self._chips: dict[int, AttachmentChip] = {}
        self._items: list[PendingAttachment] = []
        self._spin = QTimer(self)
        self._spin.setInterval(150)
        self._spin.timeout.connect(self._on_spin)
        self.hide()

    def chips(self) -> list[AttachmentChip]:
        """The chips in order."""
        return [self._chips[i.key] for i in self._items if i.key in self._chips]

    def set_items(self, items: list[PendingAttachment]) -> None:
        """Add, update and remove chips to match `items`."""
        keys = {i.key for i in items}
        for key in [k for k in self._chips if k not in keys]:
            chip = self._chips.pop(key)
            self._layout.removeWidget(chip)
            chip.deleteLater()
        for item in items:
            chip = self._chips.get(item.key)
            if chip is None:
                chip = AttachmentChip(item)
                chip.remove_requested.connect(self.remove_requested)
                self._chips[item.key] = chip
                self._layout.insertWidget(self._layout.count(), chip)
            else:
                chip.update_from(item)
        self._items = list(items)
        self.setVisible(bool(items))
        busy = any(i.state in ("reading", "counting") for i in items)
        if busy and not self._spin.isActive():
            self._spin.start()
        elif not busy:
            self._spin.stop()

    @Slot(int)
    def flash(self, key: int) -> None:
        """Highlight the chip of this item (its file was dropped again)."""
        chip = self._chips.get(key)
        if chip is not None:
            chip.flash()

    @Slot()
    def _on_spin(self) -> None:
        for item in self._items:
            chip = self._chips.get(item.key)
            if chip is not None and item.state in ("reading", "counting"):
                chip.tick(item)
