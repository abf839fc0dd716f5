"""The right-hand pane: chat view, attachment chips and composer, and a drop zone for files."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QDragEnterEvent, QDragLeaveEvent, QDropEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gemma_desktop.ui.attachment_bar import AttachmentBar
from gemma_desktop.ui.chat_view import MAX_COLUMN_WIDTH, ChatView
from gemma_desktop.ui.composer import Composer
from gemma_desktop.ui.markdown_render import MarkdownRenderer


class Banner(QFrame):
    """A dismissible one-line notice (unexpected errors, a recovered history); non-modal."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("InlineError")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton()
        close.setText("×")
        close.setProperty("flat", True)
        close.clicked.connect(self.hide)
        layout.addWidget(self.label, 1)
        layout.addWidget(close)
        self.hide()

    def show_message(self, text: str) -> None:
        """Show the text until dismissed."""
        self.label.setText(text)
        self.show()


class ChatPane(QWidget):
    """Chat column with attachments and composer; files dropped anywhere on it are attached.

    Threading: GUI thread only. Signals: `files_dropped(list)` with Paths.
    """

    files_dropped = Signal(list)

    def __init__(self, renderer: MarkdownRenderer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ChatPane")
        self.setAcceptDrops(True)
        self.setProperty("dropActive", False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.banner = Banner()
        self.view = ChatView(renderer)
        layout.addWidget(self.view, 1)
        bottom = QWidget()
        bottom_row = QHBoxLayout(bottom)
        bottom_row.setContentsMargins(24, 8, 24, 16)
        bottom_row.addStretch(1)
        column = QWidget()
        column.setMaximumWidth(MAX_COLUMN_WIDTH)
        column_layout = QVBoxLayout(column)
        column_layout.setContentsMargins(0, 0, 0, 0)
        column_layout.setSpacing(8)
        self.attachment_bar = AttachmentBar()
        self.composer = Composer()
        column_layout.addWidget(self.banner)
        column_layout.addWidget(self.attachment_bar)
        column_layout.addWidget(self.composer)
        bottom_row.addWidget(column, 100)
        bottom_row.addStretch(1)
        layout.addWidget(bottom)

    def _set_drop_active(self, active: bool) -> None:
        self.setProperty("dropActive", active)
        for widget in (self, self.view):
            widget.style().unpolish(widget)
            widget.style().polish(widget)
        self.view.empty_state.title.setText(
            "Drop to attach" if active else "Ask anything, or drop a PDF here")

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()
            self._set_drop_active(True)
        else:
            event.ignore()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self._set_drop_active(False)
        super().dragLeaveEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        self._set_drop_active(False)
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.files_dropped.emit(paths)

    @Slot(str)
    def show_banner(self, text: str) -> None:
        """A non-modal notice above the composer."""
        self.banner.show_message(text)
