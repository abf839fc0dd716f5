"""The message box: Enter sends, Shift+Enter breaks the line; Send turns into Stop while busy."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

MAX_VISIBLE_LINES = 8


class ComposerEdit(QPlainTextEdit):
    """A plain-text editor that grows with its text up to eight lines.

    Threading: GUI thread only. Signals: `submitted()` on Enter, `escaped()` on Esc.
    """

    submitted = Signal()
    escaped = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ComposerEdit")
        self.setPlaceholderText("Message the model…  (Enter sends, Shift+Enter for a new line)")
        self.setTabChangesFocus(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.document().documentLayout().documentSizeChanged.connect(self._on_size_changed)
        self._on_size_changed(None)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                self.insertPlainText("\n")
            else:
                self.submitted.emit()
            return
        if key == Qt.Key.Key_Escape:
            self.escaped.emit()
            return
        super().keyPressEvent(event)

    def _on_size_changed(self, _size: Any) -> None:
        line = self.fontMetrics().lineSpacing()
        lines = max(1, min(MAX_VISIBLE_LINES, int(self.document().size().height())))
        margins = self.contentsMargins()
        # +8: the style sheet's padding around the text.
        height = lines * line + 2 * int(self.document().documentMargin()) + margins.top() \
            + margins.bottom() + 8
        self.setFixedHeight(height)
        policy = Qt.ScrollBarPolicy
        self.setVerticalScrollBarPolicy(
            policy.ScrollBarAsNeeded if lines >= MAX_VISIBLE_LINES else policy.ScrollBarAlwaysOff
        )


class Composer(QFrame):
    """Text box plus Attach, Regenerate and Send/Stop buttons, and the inline error line.

    Threading: GUI thread only. Signals: `send_requested(str)`, `stop_requested()`,
    `regenerate_requested()`, `attach_requested()`, `text_edited()`, `thinking_toggled(bool)`
    when the user flips the Think switch (not when the program sets it).
    """

    send_requested = Signal(str)
    stop_requested = Signal()
    regenerate_requested = Signal()
    attach_requested = Signal()
    text_edited = Signal()
    thinking_toggled = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(8)
        self.error_label = QLabel()
        self.error_label.setObjectName("InlineError")
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.hide()
        outer.addWidget(self.error_label)

        box = QFrame()
        box.setObjectName("Composer")
        layout = QVBoxLayout(box)
        layout.setContentsMargins(12, 8, 8, 8)
        layout.setSpacing(4)
        self.edit = ComposerEdit()
        layout.addWidget(self.edit)
        buttons = QHBoxLayout()
        buttons.setSpacing(8)
        self.attach_button = QPushButton("Attach…")
        self.attach_button.setProperty("flat", True)
        self.attach_button.setToolTip("Attach a PDF or text file (or drop it on the chat)")
        self.regenerate_button = QPushButton("Regenerate")
        self.regenerate_button.setProperty("flat", True)
        self.regenerate_button.setToolTip("Write the last reply again")
        self.regenerate_button.setEnabled(False)
        self.think_button = QPushButton("Think")
        self.think_button.setObjectName("ThinkToggle")
        self.think_button.setCheckable(True)
        self.think_button.setProperty("flat", True)
        self.think_button.setAccessibleName("Think before answering")
        self.set_thinking_available(False, "")
        self.send_button = QPushButton("Send")
        self.send_button.setProperty("primary", True)
        self.send_button.setMinimumWidth(88)
        buttons.addWidget(self.attach_button)
        buttons.addWidget(self.regenerate_button)
        buttons.addStretch(1)
        buttons.addWidget(self.think_button)
        buttons.addWidget(self.send_button)
        layout.addLayout(buttons)
        outer.addWidget(box)

        self._generating = False
        self.edit.submitted.connect(self._on_submitted)
        self.edit.escaped.connect(self._on_escaped)
        self.edit.textChanged.connect(lambda: self.text_edited.emit())
        self.send_button.clicked.connect(self._on_send_clicked)
        self.attach_button.clicked.connect(lambda: self.attach_requested.emit())
        self.regenerate_button.clicked.connect(lambda: self.regenerate_requested.emit())
        self.think_button.clicked.connect(self._on_think_clicked)

    # ----- state -----------------------------------------------------------------------------

    @property
    def text(self) -> str:
        """What the user typed."""
        return self.edit.toPlainText()

    def set_text(self, text: str) -> None:
        """Replace the typed text."""
        self.edit.setPlainText(text)

    def clear(self) -> None:
        """Empty the box after a message was sent."""
        self.edit.clear()

    @property
    def generating(self) -> bool:
        """True while Send shows Stop."""
        return self._generating

    def set_generating(self, generating: bool) -> None:
        """Turn Send into Stop (and back)."""
        self._generating = generating
        self.send_button.setText("Stop" if generating else "Send")
        self.send_button.setProperty("primary", not generating)
        self.send_button.setProperty("danger", generating)
        self.send_button.style().unpolish(self.send_button)
        self.send_button.style().polish(self.send_button)
        if generating:
            self.regenerate_button.setEnabled(False)

    def set_can_regenerate(self, allowed: bool) -> None:
        """Enable Regenerate when there is a last reply and nothing is being written."""
        self.regenerate_button.setEnabled(allowed and not self._generating)

    @property
    def thinking(self) -> bool:
        """True when the Think switch is on (and usable)."""
        return self.think_button.isEnabled() and self.think_button.isChecked()

    def set_thinking(self, on: bool) -> None:
        """Show the conversation's thinking choice without emitting thinking_toggled."""
        self.think_button.setChecked(on)
        self._update_think_tooltip()

    def set_thinking_available(self, available: bool, reason: str) -> None:
        """Enable Think for models whose template can think; otherwise `reason` says why not."""
        self.think_button.setEnabled(available)
        self._unavailable_reason = reason
        self._update_think_tooltip()

    def _update_think_tooltip(self) -> None:
        if not self.think_button.isEnabled():
            tip = self._unavailable_reason or "Thinking needs a model that can reason first."
        elif self.think_button.isChecked():
            tip = ("On: the model reasons before it answers (shown in a panel above the answer). "
                   "A change applies from the next message.")
        else:
            tip = ("Off: the model answers at once. Turn on to let it reason first; a change "
                   "applies from the next message.")
        self.think_button.setToolTip(tip)

    @Slot()
    def _on_think_clicked(self) -> None:
        self._update_think_tooltip()
        self.thinking_toggled.emit(self.think_button.isChecked())

    def show_error(self, message: str, *, note: bool = False) -> None:
        """An inline error above the box (the typed text stays); `note` shows it as a
        neutral notice instead of an error."""
        self.error_label.setText(message)
        kind = "note" if note else "error"
        if self.error_label.property("kind") != kind:
            self.error_label.setProperty("kind", kind)
            self.error_label.style().unpolish(self.error_label)
            self.error_label.style().polish(self.error_label)
        self.error_label.setVisible(bool(message))

    @property
    def error(self) -> tuple[str, bool]:
        """The inline message shown ('' when none) and whether it is a neutral note."""
        if self.error_label.isHidden():
            return "", False
        return self.error_label.text(), self.error_label.property("kind") == "note"

    def clear_error(self) -> None:
        """Hide the inline error."""
        self.show_error("")

    # ----- slots -----------------------------------------------------------------------------

    @Slot()
    def _on_submitted(self) -> None:
        if self._generating:
            return
        # Empty text may still send attachments; the controller decides.
        self.send_requested.emit(self.text)

    @Slot()
    def _on_send_clicked(self) -> None:
        if self._generating:
            self.stop_requested.emit()
        else:
            self._on_submitted()

    @Slot()
    def _on_escaped(self) -> None:
        if self._generating:
            self.stop_requested.emit()
