"""A collapsible panel above a model's answer that shows what a reasoning model thought."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QGuiApplication, QTextCursor, QTextOption
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QPlainTextEdit,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

# The body grows with its text up to this many lines (and never past BODY_CAP_PX), then scrolls.
BODY_CAP_LINES = 14
BODY_CAP_PX = 260
# How long the Copy button says "Copied" before it reads "Copy" again.
COPIED_MS = 1500


def format_duration(seconds: float) -> str:
    """'<1 s', '12 s', '1 min 05 s' or '1 h 02 min' (whole units, rounded down)."""
    if not seconds >= 1:  # also catches NaN and negatives from a clock oddity
        return "<1 s"
    total = int(seconds)
    if total < 60:
        return f"{total} s"
    if total < 3600:
        return f"{total // 60} min {total % 60:02d} s"
    return f"{total // 3600} h {total % 3600 // 60:02d} min"


def _tokens(tokens: int) -> str:
    return "1 token" if tokens == 1 else f"{tokens:,} tokens"


def thinking_summary(seconds: float, tokens: int, *, live: bool, complete: bool) -> str:
    """The header line: 'Thinking… 12 s · 840 tokens', 'Thought for 12 s · …' or a warning."""
    if live:
        # A bare '<1 s' reads like a glitch in the first second; the count starts at 1 s.
        head = "Thinking…" if seconds < 1 else f"Thinking… {format_duration(seconds)}"
    elif complete:
        head = f"Thought for {format_duration(seconds)}"
    else:
        head = "Thinking did not finish"
    return f"{head} · {_tokens(tokens)}" if tokens > 0 else head


class ThinkingBody(QPlainTextEdit):
    """Read-only plain text that is as tall as its text, up to a cap, then scrolls.

    Threading: GUI thread only.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ThinkingBody")
        self.setReadOnly(True)
        # setReadOnly leaves only mouse selection; keyboard selection makes Ctrl+A/C work.
        self.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
            | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setUndoRedoEnabled(False)  # a growing undo stack for text nobody edits
        self.document().setDocumentMargin(0)
        self.document().documentLayout().documentSizeChanged.connect(self._fit)
        self.setFixedHeight(0)

    def cap(self) -> int:
        """The tallest the body gets, in pixels."""
        lines = BODY_CAP_LINES * self.fontMetrics().lineSpacing() + self._chrome()
        return min(BODY_CAP_PX, lines)

    def _chrome(self) -> int:
        margins = self.contentsMargins()
        return margins.top() + margins.bottom() + 2

    def content_height(self, limit: int) -> int:
        """The text's laid-out height, counting only until `limit` is passed (cheap when long)."""
        layout = self.document().documentLayout()
        height = 0.0
        block = self.document().begin()
        while block.isValid() and height <= limit:
            # The plain-text layout lays out a block on demand when asked for its rectangle.
            height += layout.blockBoundingRect(block).height()
            block = block.next()
        return int(height + 0.999)

    def _fit(self, *_args: Any) -> None:
        cap = self.cap()
        height = min(cap, self.content_height(cap) + self._chrome())
        if self.height() != height:
            self.setFixedHeight(height)

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self._fit()  # a new width wraps the lines differently

    def at_end(self) -> bool:
        """True when the view shows the end of the text (so it keeps following it)."""
        bar = self.verticalScrollBar()
        return bar.value() >= bar.maximum()

    def scroll_to_end(self) -> None:
        """Show the last line."""
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())

    def add_text(self, text: str) -> None:
        """Insert at the end without touching the user's selection or the view."""
        cursor = QTextCursor(self.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(text)


class ThinkingPanel(QFrame):
    """A header ('Thought for 12 s · 840 tokens') that shows or hides the model's thought.

    Threading: GUI thread only; text arrives already batched from the controller.
    Signals: `expanded_changed(bool)` whenever the body is shown or hidden;
    `copied()` after the Copy button put the whole thought on the clipboard.
    """

    expanded_changed = Signal(bool)
    copied = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ThinkingPanel")
        self.setProperty("state", "done")
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self._expanded = False
        self._live = False
        self._complete = True
        self._seconds = 0.0
        self._tokens = 0
        self._started = 0.0
        # A header click while live means the user chose; the end of thinking then keeps it.
        self._user_chose = False

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 0, 0, 0)
        layout.setSpacing(2)

        row = QHBoxLayout()
        row.setSpacing(4)
        self._header = QToolButton()
        self._header.setObjectName("ThinkingHeader")
        self._header.setProperty("flat", True)
        self._header.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self._header.setArrowType(Qt.ArrowType.RightArrow)
        self._header.setIconSize(QSize(12, 12))  # the arrow's box: a small chevron, not an icon
        self._header.setCursor(Qt.CursorShape.PointingHandCursor)
        # Tab only: a mouse click leaves no focus look behind, keyboard users still get one.
        self._header.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self._header.clicked.connect(self._on_header_clicked)
        row.addWidget(self._header)
        row.addStretch(1)
        self._copy = QToolButton()
        self._copy.setObjectName("ThinkingCopy")
        self._copy.setText("Copy")
        self._copy.setProperty("flat", True)
        self._copy.setToolTip("Copy the whole thought")
        self._copy.setAccessibleName("Copy the thought")
        self._copy.setCursor(Qt.CursorShape.PointingHandCursor)
        self._copy.clicked.connect(self._on_copy_clicked)
        row.addWidget(self._copy)
        layout.addLayout(row)

        self.body = ThinkingBody()
        layout.addWidget(self.body)

        self._tick = QTimer(self)
        self._tick.setSingleShot(True)  # re-armed to fire just after each whole second
        self._tick.timeout.connect(self._on_tick)
        self._copied_reset = QTimer(self)
        self._copied_reset.setSingleShot(True)
        self._copied_reset.setInterval(COPIED_MS)
        self._copied_reset.timeout.connect(lambda: self._copy.setText("Copy"))

        self._sync()
        self.hide()

    # ----- state -------------------------------------------------------------------------------

    @property
    def expanded(self) -> bool:
        """Whether the thought is shown (the header alone when False)."""
        return self._expanded

    @property
    def text(self) -> str:
        """The whole thought."""
        return self.body.toPlainText()

    @property
    def live(self) -> bool:
        """True while the model is thinking (the header's clock runs)."""
        return self._live

    @property
    def header_text(self) -> str:
        """What the header says now."""
        return thinking_summary(self._elapsed(), self._tokens, live=self._live,
                                complete=self._complete)

    # ----- feeding -----------------------------------------------------------------------------

    def start(self, *, elapsed_s: float = 0.0, tokens: int = 0, text: str = "") -> None:
        """Thinking began, or resumes with what was thought so far: show it expanded and live."""
        self._live = True
        self._complete = True
        self._tokens = tokens
        self._user_chose = False
        self._started = time.monotonic() - max(0.0, elapsed_s)
        self.body.setPlainText(text)
        self.show()
        self.set_expanded(True)
        self.body.scroll_to_end()
        self._arm_tick()
        self._sync()

    def append(self, text: str, tokens: int) -> None:
        """More thought; `tokens` is the running total."""
        self._tokens = tokens
        if text:
            follow = self.body.at_end()
            self.body.add_text(text)
            if follow and self._expanded:
                self.body.scroll_to_end()
        if self.isHidden():
            self.show()
        self._sync()

    def finish(self, *, seconds: float, tokens: int, complete: bool, collapse: bool) -> None:
        """Thinking ended: a final header; collapse only a thought that finished."""
        self._tick.stop()
        self._live = False
        self._seconds = seconds
        self._tokens = tokens
        self._complete = complete
        self.setVisible(bool(self.text) or not complete)
        # An unfinished thought stays open so the user sees where it stopped.
        if collapse and complete and not self._user_chose:
            self.set_expanded(False)
        self._sync()

    def show_stored(self, text: str, *, seconds: float, tokens: int, complete: bool) -> None:
        """A finished message from history: collapsed, or open when the thought never finished."""
        self._tick.stop()
        self._live = False
        self._seconds = seconds
        self._tokens = tokens
        self._complete = complete
        self._user_chose = False
        self.body.setPlainText(text)
        self.setVisible(bool(text) or not complete)
        self.set_expanded(not complete)
        # Read from history: the thought is opened at its start, not its end.
        self.body.verticalScrollBar().setValue(0)
        self._sync()

    def set_expanded(self, expanded: bool) -> None:
        """Show or hide the thought under the header."""
        changed = expanded != self._expanded
        self._expanded = expanded
        self._sync()
        if not changed:
            return
        if expanded and self._live:
            self.body.scroll_to_end()
        self.expanded_changed.emit(expanded)

    # ----- internals ---------------------------------------------------------------------------

    def _elapsed(self) -> float:
        return time.monotonic() - self._started if self._live else self._seconds

    def _arm_tick(self) -> None:
        # Fire a moment after the next whole second so the shown count never lags a tick.
        into = self._elapsed() % 1.0
        self._tick.start(int((1.0 - into) * 1000) + 20)

    @Slot()
    def _on_tick(self) -> None:
        if not self._live:
            return
        self._sync()
        self._arm_tick()

    def _sync(self) -> None:
        """Bring the header, arrow, body and warning look in line with the state."""
        summary = self.header_text
        self._header.setText(summary)
        self._header.setArrowType(
            Qt.ArrowType.DownArrow if self._expanded else Qt.ArrowType.RightArrow)
        action = "Hide" if self._expanded else "Show"
        self._header.setToolTip(f"{action} the model's thinking")
        self._header.setAccessibleName(summary)
        self._header.setAccessibleDescription(f"{action} the model's thinking")
        has_text = self.body.document().characterCount() > 1  # an empty document holds 1
        self.body.setVisible(self._expanded and has_text)
        self._copy.setVisible(has_text)
        state = "live" if self._live else ("done" if self._complete else "unfinished")
        if self.property("state") != state:
            self.setProperty("state", state)
            # Re-polish so the [state=...] rules of the style sheet apply to the new value.
            for widget in (self, self._header):
                widget.style().unpolish(widget)
                widget.style().polish(widget)

    @Slot()
    def _on_header_clicked(self) -> None:
        if self._live:
            self._user_chose = True
        self.set_expanded(not self._expanded)

    @Slot()
    def _on_copy_clicked(self) -> None:
        QGuiApplication.clipboard().setText(self.text)
        self._copy.setText("Copied")
        self._copied_reset.start()
        self.copied.emit()
