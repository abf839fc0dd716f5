"""A small dialog for context size, reply length and the conversation's system prompt."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QPlainTextEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

DEFAULT_N_CTX = 8192
DEFAULT_MAX_TOKENS = 1024


@dataclass(frozen=True)
class ChatSettings:
    """Generation settings: n_ctx and max_tokens for the app, the system prompt per chat."""

    n_ctx: int = DEFAULT_N_CTX
    max_tokens: int = DEFAULT_MAX_TOKENS
    system_prompt: str = ""


class SettingsDialog(QDialog):
    """Edits ChatSettings; the context size is capped at the model's trained context.

    Threading: GUI thread only; modal. No signals: read `settings()` after exec().
    """

    def __init__(self, settings: ChatSettings, max_ctx: int | None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Chat settings")
        self.setMinimumWidth(460)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 16)
        layout.setSpacing(8)
        form = QFormLayout()
        form.setSpacing(8)
        self.n_ctx = QSpinBox()
        self.n_ctx.setRange(512, max_ctx or 262144)
        self.n_ctx.setSingleStep(1024)
        self.n_ctx.setGroupSeparatorShown(True)
        self.n_ctx.setValue(min(settings.n_ctx, self.n_ctx.maximum()))
        self.n_ctx.setSuffix(" tokens")
        form.addRow("Context size", self.n_ctx)
        hint = QLabel(
            "How much text the model sees at once (history and documents). Larger needs more "
            "memory; changing it reloads the model."
            + (f" This model was trained on up to {max_ctx:,}." if max_ctx else "")
        )
        hint.setObjectName("Hint")
        hint.setWordWrap(True)
        form.addRow("", hint)
        self.max_tokens = QSpinBox()
        self.max_tokens.setRange(16, 32768)
        self.max_tokens.setSingleStep(256)
        self.max_tokens.setGroupSeparatorShown(True)
        self.max_tokens.setValue(settings.max_tokens)
        self.max_tokens.setSuffix(" tokens")
        form.addRow("Max reply length", self.max_tokens)
        self.system_prompt = QPlainTextEdit(settings.system_prompt)
        self.system_prompt.setPlaceholderText("Optional instructions for this chat, e.g. "
                                              "“Answer briefly and cite page numbers.”")
        self.system_prompt.setFixedHeight(110)
        form.addRow("System prompt\n(this chat)", self.system_prompt)
        layout.addLayout(form)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def settings(self) -> ChatSettings:
        """The values entered."""
        return ChatSettings(
            self.n_ctx.value(), self.max_tokens.value(), self.system_prompt.toPlainText().strip()
        )
