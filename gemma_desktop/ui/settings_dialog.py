"""Settings: context size and reply length for all chats, the system prompt for this chat."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLayout,
    QPlainTextEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

DEFAULT_N_CTX = 8192
DEFAULT_MAX_TOKENS = 1024
# Thinking comes out of the same budget as the answer, and Gemma 4 often thinks for thousands
# of tokens: a separate, larger limit keeps the answer from being starved.
DEFAULT_THINKING_MAX_TOKENS = 4096
MIN_N_CTX = 512
MIN_MAX_TOKENS = 16
MAX_MAX_TOKENS = 32768
# The boxes accept any number typed (a tighter range would silently cut 65536 to 6553);
# values outside what works are refused on OK with a message instead.
_TYPING_LIMIT = 99_999_999


@dataclass(frozen=True)
class ChatSettings:
    """Generation settings: n_ctx and max_tokens for the app, the system prompt per chat."""

    n_ctx: int = DEFAULT_N_CTX
    max_tokens: int = DEFAULT_MAX_TOKENS
    system_prompt: str = ""
    thinking_max_tokens: int = DEFAULT_THINKING_MAX_TOKENS
    think_by_default: bool = False
    fold_thinking: bool = True


def _spin_box(value: int, step: int) -> QSpinBox:
    box = QSpinBox()
    box.setRange(1, _TYPING_LIMIT)
    box.setSingleStep(step)
    box.setGroupSeparatorShown(True)
    box.setSuffix(" tokens")
    box.setValue(value)
    box.setMinimumWidth(150)
    return box


class SettingsDialog(QDialog):
    """Edits ChatSettings. The context size may go up to `max_ctx`, the loaded model's
    trained context; a value typed beyond it is never changed silently: OK is refused
    with a message saying what is allowed.

    Threading: GUI thread only; modal. No signals: read `settings()` after exec().
    """

    def __init__(self, settings: ChatSettings, max_ctx: int | None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setMinimumWidth(560)
        self.max_ctx = max_ctx
        layout = QVBoxLayout(self)
        # The dialog grows when the problem line appears instead of squeezing the groups.
        layout.setSizeConstraint(QLayout.SizeConstraint.SetFixedSize)
        layout.setContentsMargins(16, 16, 16, 16)
        layout.setSpacing(12)

        shared = QGroupBox("All chats")
        form = QFormLayout(shared)
        form.setSpacing(8)
        form.setHorizontalSpacing(16)
        self.n_ctx = _spin_box(settings.n_ctx, 1024)
        self.n_ctx_limit = QLabel(f"up to {max_ctx:,} for this model" if max_ctx else "")
        self.n_ctx_limit.setObjectName("Hint")
        row = QHBoxLayout()
        row.addWidget(self.n_ctx)
        row.addWidget(self.n_ctx_limit, 1)
        form.addRow("Context size", row)
        hint = QLabel("How much text the model sees at once (history and documents). Larger "
                      "needs more memory; changing it reloads the model.")
        hint.setObjectName("Hint")
        hint.setWordWrap(True)
        form.addRow("", hint)
        self.max_tokens = _spin_box(settings.max_tokens, 256)
        tokens_limit = QLabel(f"{MIN_MAX_TOKENS}–{MAX_MAX_TOKENS:,}")
        tokens_limit.setObjectName("Hint")
        row = QHBoxLayout()
        row.addWidget(self.max_tokens)
        row.addWidget(tokens_limit, 1)
        form.addRow("Max reply length", row)
        self.thinking_max_tokens = _spin_box(settings.thinking_max_tokens, 1024)
        row = QHBoxLayout()
        row.addWidget(self.thinking_max_tokens)
        # Not refused when above the context size: a reply simply stops when the context is
        # full, and the message under it says so.
        thinking_hint = QLabel(f"{MIN_MAX_TOKENS}–{MAX_MAX_TOKENS:,}, thinking and answer together")
        thinking_hint.setObjectName("Hint")
        row.addWidget(thinking_hint, 1)
        form.addRow("Max length when thinking", row)
        self.think_by_default = QCheckBox("Think before answering by default (models that can)")
        self.think_by_default.setToolTip(
            "Chats whose Think switch you have not changed follow this; the switch next to "
            "Send decides for its own chat.")
        self.think_by_default.setChecked(settings.think_by_default)
        form.addRow("Thinking", self.think_by_default)
        self.fold_thinking = QCheckBox("Fold the thinking away when the answer starts")
        self.fold_thinking.setChecked(settings.fold_thinking)
        form.addRow("", self.fold_thinking)
        layout.addWidget(shared)

        own = QGroupBox("This chat only")
        own_layout = QVBoxLayout(own)
        own_layout.addWidget(QLabel("System prompt"))
        self.system_prompt = QPlainTextEdit(settings.system_prompt)
        self.system_prompt.setPlaceholderText("Optional instructions for this chat, e.g. "
                                              "“Answer briefly and cite page numbers.”")
        self.system_prompt.setFixedHeight(110)
        own_layout.addWidget(self.system_prompt)
        layout.addWidget(own)

        self.problem_label = QLabel()
        self.problem_label.setObjectName("InlineError")
        self.problem_label.setWordWrap(True)
        self.problem_label.hide()
        layout.addWidget(self.problem_label)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.n_ctx.valueChanged.connect(self._on_value_changed)
        self.max_tokens.valueChanged.connect(self._on_value_changed)
        self.thinking_max_tokens.valueChanged.connect(self._on_value_changed)
        self._on_value_changed()

    def problem(self) -> str:
        """Why the values entered cannot be used ('' when they can)."""
        n_ctx, max_tokens = self.n_ctx.value(), self.max_tokens.value()
        thinking_max = self.thinking_max_tokens.value()
        if self.max_ctx and n_ctx > self.max_ctx:
            return (f"Context size {n_ctx:,} is more than this model allows: enter at most "
                    f"{self.max_ctx:,} tokens.")
        if n_ctx < MIN_N_CTX:
            return f"Context size {n_ctx:,} is too small: enter at least {MIN_N_CTX:,} tokens."
        if not MIN_MAX_TOKENS <= max_tokens <= MAX_MAX_TOKENS:
            return (f"Max reply length must be between {MIN_MAX_TOKENS} and "
                    f"{MAX_MAX_TOKENS:,} tokens.")
        if max_tokens >= n_ctx:
            return (f"Max reply length ({max_tokens:,}) must be smaller than the context size "
                    f"({n_ctx:,}), which also holds the conversation.")
        if not MIN_MAX_TOKENS <= thinking_max <= MAX_MAX_TOKENS:
            return (f"Max length when thinking must be between {MIN_MAX_TOKENS} and "
                    f"{MAX_MAX_TOKENS:,} tokens.")
        return ""

    @Slot()
    def _on_value_changed(self) -> None:
        problem = self.problem()
        self.problem_label.setText(problem)
        self.problem_label.setVisible(bool(problem))

    def accept(self) -> None:
        """Close only with values that can be used; otherwise say why and stay open."""
        self._on_value_changed()
        if self.problem():
            return
        super().accept()

    def settings(self) -> ChatSettings:
        """The values entered."""
        return ChatSettings(
            self.n_ctx.value(), self.max_tokens.value(), self.system_prompt.toPlainText().strip(),
            self.thinking_max_tokens.value(), self.think_by_default.isChecked(),
            self.fold_thinking.isChecked(),
        )
