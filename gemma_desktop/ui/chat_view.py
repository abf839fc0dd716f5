"""The scrolling column of message cards, with an empty state and stick-to-bottom scrolling."""

from __future__ import annotations

from html import escape
from typing import Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from gemma_desktop.ui.markdown_render import MarkdownRenderer
from gemma_desktop.ui.message_widget import MessageWidget

# Lines of text are easiest to read up to about 90 characters.
MAX_COLUMN_WIDTH = 860
# The welcome text wraps at this width, centred in the column.
EMPTY_TEXT_WIDTH = 560
EMPTY_HINTS = (
    "Drag &amp; drop PDFs or text files onto this window, or use <b>Attach…</b> below; "
    "the model reads them with your question.<br>"
    "<b>Enter</b> sends, <b>Shift+Enter</b> starts a new line, <b>Esc</b> stops a reply."
)
# The user's bubble leaves room on the left so the two sides read as a dialogue.
USER_INDENT = 96


class EmptyState(QWidget):
    """The welcome shown in a conversation without messages: what is loaded and how to start.

    The text stays in a column of at most EMPTY_TEXT_WIDTH px so lines remain easy to read.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 96, 24, 24)
        layout.setSpacing(12)
        self.title = QLabel("Ask anything, or drop a PDF here")
        self.title.setObjectName("EmptyTitle")
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title.setWordWrap(True)
        self.text = QLabel()
        self.text.setObjectName("EmptyText")
        self.hints = QLabel(EMPTY_HINTS)
        self.hints.setObjectName("EmptyHints")
        # A centred column capped at EMPTY_TEXT_WIDTH: the labels fill it and wrap inside it
        # (a word-wrapped label aligned on its own would shrink to an awkward narrow box).
        column = QWidget()
        column.setObjectName("EmptyColumn")
        column.setMaximumWidth(EMPTY_TEXT_WIDTH)
        column_layout = QVBoxLayout(column)
        column_layout.setContentsMargins(0, 0, 0, 0)
        column_layout.setSpacing(12)
        for label in (self.text, self.hints):
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setWordWrap(True)
            label.setTextFormat(Qt.TextFormat.RichText)
            column_layout.addWidget(label)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(column, 100)
        row.addStretch(1)
        layout.addWidget(self.title)
        layout.addLayout(row)
        layout.addStretch(1)
        self.text.hide()

    def set_description(self, text: str) -> None:
        """The honest description of the loaded model under the title (first line in bold)."""
        first, _, rest = text.partition("\n")
        html = f"<b>{escape(first)}</b>"
        if rest:
            html += "<br>" + escape(rest).replace("\n", "<br>")
        self.text.setText(html)
        self.text.setVisible(bool(text))

    def description(self) -> str:
        """The description as plain text (for tests and accessibility)."""
        return self.text.text()


class ChatView(QScrollArea):
    """Message cards in one centred column; scrolls with new text only while at the bottom.

    Threading: GUI thread only. No signals: the controller drives it through methods.
    """

    def __init__(self, renderer: MarkdownRenderer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ChatScroll")
        self._renderer = renderer
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._column = QWidget()
        self._column.setObjectName("ChatColumn")
        outer = QHBoxLayout(self._column)
        outer.setContentsMargins(24, 16, 24, 16)
        outer.addStretch(1)
        inner_box = QWidget()
        inner_box.setMaximumWidth(MAX_COLUMN_WIDTH)
        inner_box.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self._list = QVBoxLayout(inner_box)
        self._list.setContentsMargins(0, 0, 0, 0)
        self._list.setSpacing(16)
        self.empty_state = EmptyState()
        self._list.addWidget(self.empty_state)
        self._list.addStretch(1)
        outer.addWidget(inner_box, 100)
        outer.addStretch(1)
        self.setWidget(self._column)
        self._messages: list[MessageWidget] = []
        self._rows: list[QWidget] = []
        self._stick = True
        bar = self.verticalScrollBar()
        bar.valueChanged.connect(self._on_scrolled)
        bar.rangeChanged.connect(self._on_range_changed)

    # ----- messages --------------------------------------------------------------------------

    def clear(self) -> None:
        """Remove every message and show the empty state."""
        for row in self._rows:
            self._list.removeWidget(row)
            row.hide()  # gone at once, deleted when the event loop gets to it
            row.deleteLater()
        self._rows.clear()
        self._messages.clear()
        self.empty_state.show()
        self._stick = True

    def add_message(self, role: str, text: str = "", *, message_id: int | None = None
                    ) -> MessageWidget:
        """Append a card; the caller fills or streams its text."""
        self.empty_state.hide()
        widget = MessageWidget(role, self._renderer, message_id=message_id)
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        if role == "user":
            layout.addSpacing(USER_INDENT)
        layout.addWidget(widget, 1)
        self._list.insertWidget(self._list.count() - 1, row)
        self._rows.append(row)
        self._messages.append(widget)
        if text:
            widget.set_text(text)
        return widget

    def remove_from(self, message_id: int) -> None:
        """Remove this message's card and every later one (Regenerate)."""
        index = next(
            (i for i, w in enumerate(self._messages) if w.message_id == message_id), None
        )
        if index is None:
            return
        for row in self._rows[index:]:
            self._list.removeWidget(row)
            row.hide()
            row.deleteLater()
        del self._rows[index:]
        del self._messages[index:]
        if not self._messages:
            self.empty_state.show()

    def messages(self) -> list[MessageWidget]:
        """The cards in order."""
        return list(self._messages)

    def widget_for(self, message_id: int) -> MessageWidget | None:
        """The card of a stored message, if shown."""
        return next((w for w in self._messages if w.message_id == message_id), None)

    def scroll_to_bottom(self) -> None:
        """Jump to the newest message and follow new text again."""
        self._stick = True
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())

    @property
    def at_bottom(self) -> bool:
        """True while new text scrolls the view."""
        return self._stick

    # ----- scrolling -------------------------------------------------------------------------

    @Slot(int)
    def _on_scrolled(self, value: int) -> None:
        bar = self.verticalScrollBar()
        # A few pixels of slack so a wheel tick short of the end still counts as "at bottom".
        self._stick = value >= bar.maximum() - 8

    @Slot(int, int)
    def _on_range_changed(self, _low: int, high: int) -> None:
        if self._stick:
            self.verticalScrollBar().setValue(high)

    def resizeEvent(self, event: Any) -> None:
        stick = self._stick
        super().resizeEvent(event)
        if stick:
            self.scroll_to_bottom()
