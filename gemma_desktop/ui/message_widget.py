"""One chat message as a card: thinking panel, rendered Markdown, Copy, notes and statistics."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSize, Qt, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices, QGuiApplication, QTextOption
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QTextBrowser,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gemma_desktop.ui.flow_layout import FlowLayout
from gemma_desktop.ui.markdown_render import IncrementalMarkdown, MarkdownRenderer
from gemma_desktop.ui.thinking_panel import ThinkingPanel

INTERRUPTED_NOTE = "Interrupted — the app closed while this was being written"
STOPPED_NOTE = "Stopped"
CLOSED_NOTE = "Stopped — the app was closed"
_LOCAL_SCHEMES = frozenset({"qrc"})
# A sent document's name is shortened in the middle beyond this width (full in the tooltip).
SENT_CHIP_NAME_WIDTH = 220


class MarkdownView(QTextBrowser):
    """A read-only rich-text view that never loads a remote (or any file) resource.

    Threading: GUI thread only. It sizes itself to its content, so the chat scrolls as
    one column instead of each message scrolling on its own.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("MessageBody")
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
            | Qt.TextInteractionFlag.TextSelectableByKeyboard
            | Qt.TextInteractionFlag.LinksAccessibleByMouse
        )
        self.document().setDocumentMargin(0)
        self.document().documentLayout().documentSizeChanged.connect(self._on_size_changed)
        self.anchorClicked.connect(self._on_anchor_clicked)

    def loadResource(self, kind: int, url: QUrl) -> Any:
        """Refuse every resource that is not bundled with the app: nothing is fetched."""
        if url.scheme() in _LOCAL_SCHEMES:
            return super().loadResource(kind, url)
        return None

    @Slot(QUrl)
    def _on_anchor_clicked(self, url: QUrl) -> None:
        # Only a click by the user opens a link, and only in the system browser.
        if url.scheme() in ("http", "https", "mailto"):
            QDesktopServices.openUrl(url)

    def _on_size_changed(self, _size: Any) -> None:
        self.updateGeometry()
        height = int(self.document().size().height()) + 2
        if self.height() != height:
            self.setFixedHeight(height)

    def resizeEvent(self, event: Any) -> None:
        self.document().setTextWidth(self.viewport().width())
        super().resizeEvent(event)
        self._on_size_changed(None)

    def sizeHint(self) -> QSize:
        return QSize(400, int(self.document().size().height()) + 2)


class MessageWidget(QFrame):
    """A user or model message card; the model's text can stream into it.

    Threading: GUI thread only; text arrives already batched from the controller.
    Signals: `copied()` after the Copy button put the Markdown source on the clipboard;
    `continue_requested(str)` when an action under a cut-short reply is clicked ("more":
    carry on with a larger limit, "answer": end the thinking and answer now).
    """

    copied = Signal()
    continue_requested = Signal(str)

    def __init__(self, role: str, renderer: MarkdownRenderer, *, message_id: int | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.role = role
        self.message_id = message_id
        self.status = "done"
        self.setObjectName("MessageCard")
        self.setProperty("role", role)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 10, 16, 10)
        layout.setSpacing(4)

        header = QHBoxLayout()
        header.setSpacing(8)
        self._role_label = QLabel("You" if role == "user" else "Model")
        self._role_label.setObjectName("MessageRole")
        header.addWidget(self._role_label)
        header.addStretch(1)
        self._copy = QToolButton()
        self._copy.setText("Copy")
        self._copy.setProperty("flat", True)
        self._copy.setToolTip("Copy this message as Markdown")
        self._copy.setCursor(Qt.CursorShape.PointingHandCursor)
        self._copy.clicked.connect(self._on_copy_clicked)
        header.addWidget(self._copy)
        layout.addLayout(header)

        self._chips_box = QWidget()
        self._chips = FlowLayout(self._chips_box, spacing=8)  # many documents wrap onto rows
        self._chips.setContentsMargins(0, 0, 0, 4)
        self._chips_box.hide()
        layout.addWidget(self._chips_box)

        self.thinking = ThinkingPanel()
        layout.addWidget(self.thinking)
        self.body = MarkdownView()
        layout.addWidget(self.body)
        self._markdown = IncrementalMarkdown(self.body.document(), renderer)

        self._note = QLabel()
        self._note.setObjectName("MessageNote")
        self._note.setWordWrap(True)
        self._note.hide()
        layout.addWidget(self._note)
        self._actions_box = QWidget()
        self._actions = QHBoxLayout(self._actions_box)
        self._actions.setContentsMargins(0, 2, 0, 2)
        self._actions.setSpacing(8)
        self._actions_box.hide()
        layout.addWidget(self._actions_box)
        self._footer = QLabel()
        self._footer.setObjectName("MessageFooter")
        self._footer.hide()
        layout.addWidget(self._footer)

    # ----- content ---------------------------------------------------------------------------

    @property
    def text(self) -> str:
        """The Markdown source shown."""
        return self._markdown.text

    def set_text(self, text: str) -> None:
        """Show a finished text, rendered in one go (the user's own words as plain text)."""
        if self.role == "user":
            self._markdown.text = text
            # Plain text: no markup is interpreted and every line break stays.
            self.body.setPlainText(text)
        else:
            self._markdown.set_text(text)

    def begin_stream(self, text: str = "") -> None:
        """Prepare for streamed text (optionally resuming with text already written)."""
        self.status = "streaming"
        self.body.setVisible(True)
        self._markdown.begin()
        if text:
            self._markdown.append(text)
        self.set_note("Writing…" if not text else "")

    def append(self, piece: str) -> None:
        """Add a streamed batch; only the open Markdown block is rendered again."""
        if self._note.text() == "Writing…":
            self.set_note("")
        self._markdown.append(piece)

    # ----- thinking --------------------------------------------------------------------------

    def begin_thinking(self, text: str = "", *, elapsed_s: float = 0.0, tokens: int = 0) -> None:
        """The model started (or is still) thinking: the panel opens and streams."""
        if self._note.text() == "Writing…":
            self.set_note("")
        self.thinking.start(elapsed_s=elapsed_s, tokens=tokens, text=text)

    def append_thinking(self, piece: str, tokens: int) -> None:
        """More of the thought; `tokens` is the running count."""
        if not self.thinking.live:
            self.begin_thinking()
        self.thinking.append(piece, tokens)

    def end_thinking(self, *, seconds: float, tokens: int, complete: bool,
                     collapse: bool) -> None:
        """The thought ended (the answer began, or the reply ended)."""
        if self.thinking.live or self.thinking.text:
            self.thinking.finish(seconds=seconds, tokens=tokens, complete=complete,
                                 collapse=collapse)

    def show_thinking(self, text: str, stats: dict[str, Any]) -> None:
        """A stored thought, folded, with its time and tokens from the reply's statistics."""
        self.thinking.show_stored(
            text, seconds=float(stats.get("thinking_s") or 0.0),
            tokens=int(stats.get("thinking_tokens") or 0),
            complete=bool(stats.get("thinking_complete", True)),
        )

    # ----- actions ---------------------------------------------------------------------------

    def set_actions(self, actions: list[tuple[str, str, str]]) -> None:
        """Buttons under the reply as (mode, label, tooltip); an empty list hides them."""
        while self._actions.count():
            item = self._actions.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        for mode, label, tooltip in actions:
            button = QPushButton(label)
            button.setObjectName(f"ReplyAction-{mode}")
            button.setProperty("action", True)
            button.setToolTip(tooltip)
            button.setCursor(Qt.CursorShape.PointingHandCursor)
            button.clicked.connect(lambda _=False, m=mode: self.continue_requested.emit(m))
            self._actions.addWidget(button)
        self._actions.addStretch(1)
        self._actions_box.setVisible(bool(actions))

    def action_buttons(self) -> list[QPushButton]:
        """The action buttons shown now."""
        if self._actions_box.isHidden():
            return []
        return [self._actions.itemAt(i).widget() for i in range(self._actions.count())
                if isinstance(self._actions.itemAt(i).widget(), QPushButton)]

    def finish(self, status: str, finish_reason: str | None, stats: dict[str, Any],
               text: str | None = None) -> None:
        """Final render of the whole text plus the status note and statistics footer."""
        self.status = status
        self.set_text(self._markdown.text if text is None else text)
        # A reply that ended without an answer (only a thought) shows no empty text box.
        self.body.setVisible(bool(self._markdown.text.strip()) or self.role == "user")
        self.set_note(note_for(status, finish_reason, stats), error=status == "error")
        self.set_stats(stats)

    def set_note(self, note: str, *, error: bool = False) -> None:
        """Show a small note under the text (Stopped, Interrupted, an error), or hide it."""
        self._note.setText(note)
        self._note.setProperty("error", error)
        self._note.style().unpolish(self._note)
        self._note.style().polish(self._note)
        self._note.setVisible(bool(note))

    def set_stats(self, stats: dict[str, Any]) -> None:
        """The subtle footer: tokens, tokens per second and time to first token."""
        footer = stats_line(stats)
        self._footer.setText(footer)
        self._footer.setVisible(bool(footer))

    def add_attachment_chip(self, name: str, detail: str, tooltip: str = "") -> None:
        """A small chip for a document sent with this message."""
        full = f"{name} · {detail}" if detail else name
        chip = QLabel(self.fontMetrics().elidedText(name, Qt.TextElideMode.ElideMiddle,
                                                    SENT_CHIP_NAME_WIDTH)
                      + (f" · {detail}" if detail else ""))
        chip.setObjectName("SentChip")
        chip.setToolTip(f"{full}\n{tooltip}" if tooltip else full)
        self._chips.insertWidget(self._chips.count(), chip)
        self._chips_box.show()

    @Slot()
    def _on_copy_clicked(self) -> None:
        QGuiApplication.clipboard().setText(self.text)
        self._copy.setText("Copied")
        self.copied.emit()


def note_for(status: str, finish_reason: str | None, stats: dict[str, Any]) -> str:
    """The note shown under a message with this status."""
    if status == "stopped" and finish_reason == "closed":
        return CLOSED_NOTE
    if status == "stopped" and finish_reason == "interrupted":
        return INTERRUPTED_NOTE
    if status == "stopped":
        return STOPPED_NOTE
    if status == "error":
        return str(stats.get("error") or "The reply failed.")
    if status == "done" and finish_reason == "repetition":
        quote = str(stats.get("repeated") or "").strip()
        what = f"“{quote}”" if quote else "the same text"
        return (f"Stopped: the model kept repeating {what} over and over. Regenerate, or "
                "rephrase the question.")
    unfinished_thought = not stats.get("thinking_complete", True) and not stats.get(
        "answered", True)
    setting = ("Settings → Max length when thinking" if stats.get("limit_setting") == "thinking"
               else "Settings → Max reply length")
    if status == "done" and unfinished_thought and finish_reason == "length":
        if stats.get("length_limit") == "context":
            return ("The context window filled up while the model was still thinking, so no "
                    "answer was written. Raise the context size (Settings) or start a new chat.")
        used = int(stats.get("completion_tokens") or 0)
        after = f" after {used:,} tokens" if used else ""
        return (f"The model was still thinking{after} when the limit was reached ({setting}), "
                "so no answer was written.")
    if status == "done" and unfinished_thought:
        return ("The model ended its turn while still thinking, without an answer. "
                "Regenerate to try again.")
    if status == "done" and finish_reason == "length" and stats.get("length_limit") == "context":
        return "The context window is full, so the reply stopped here (Settings → Context size)."
    if status == "done" and finish_reason == "length":
        return f"Reached the length limit ({setting})."
    if status == "streaming":
        return INTERRUPTED_NOTE
    return ""


def stats_line(stats: dict[str, Any]) -> str:
    """'128 tokens · 42.0 tok/s · 0.31 s to first token' from a reply's statistics."""
    parts = []
    completion = stats.get("completion_tokens")
    if completion:
        parts.append(f"{int(completion):,} tokens")
    speed = stats.get("decode_tokens_per_s")
    if speed:
        parts.append(f"{float(speed):.1f} tok/s")
    ttft = stats.get("ttft_s")
    if ttft:
        parts.append(f"{float(ttft):.2f} s to first token")
    return " · ".join(parts)
