"""The status bar: model name, what the engine is doing, speed, and the context meter."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar, QWidget


class StatusBar(QStatusBar):
    """Shows model, state ('Loading model…', 'Reading prompt 45 %', 'Generating', 'Ready'),
    tokens per second and 'used / n_ctx tokens' with a slim bar.

    Threading: GUI thread only; no signals.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizeGripEnabled(False)
        self.setContentsMargins(8, 0, 16, 0)
        self.model_label = QLabel("No model")
        self.state_label = QLabel("Starting…")
        self.speed_label = QLabel("")
        self.context_label = QLabel("")
        self.context_bar = QProgressBar()
        self.context_bar.setObjectName("ContextBar")
        self.context_bar.setTextVisible(False)
        self.context_bar.setFixedWidth(120)
        self.context_bar.setRange(0, 1)
        self.context_bar.setValue(0)
        self.addWidget(self.model_label)
        self.addWidget(self.state_label)
        self.addPermanentWidget(self.speed_label)
        self.addPermanentWidget(self.context_label)
        self.addPermanentWidget(self.context_bar)
        self.used = 0
        self.n_ctx = 0

    def set_model(self, name: str) -> None:
        """The loaded model's name."""
        self.model_label.setText(name)
        self.model_label.setToolTip(name)

    def set_state(self, text: str) -> None:
        """What is happening now."""
        self.state_label.setText(text)

    def set_prompt_progress(self, done: int, total: int) -> None:
        """'Reading prompt 45 %' while the prompt is processed."""
        percent = int(100 * done / total) if total else 100
        self.set_state(f"Reading prompt {percent} %")

    def set_speed(self, tokens_per_s: float | None) -> None:
        """Tokens per second of the current or last reply."""
        self.speed_label.setText(f"{tokens_per_s:.1f} tok/s" if tokens_per_s else "")

    def set_context(self, used: int, n_ctx: int) -> None:
        """'1,234 / 8,192 tokens' and the bar; red when nearly full."""
        self.used, self.n_ctx = used, n_ctx
        if n_ctx <= 0:
            self.context_label.setText("")
            self.context_bar.setRange(0, 1)
            self.context_bar.setValue(0)
            return
        self.context_label.setText(f"{used:,} / {n_ctx:,} tokens")
        self.context_bar.setRange(0, n_ctx)
        self.context_bar.setValue(min(used, n_ctx))
        level = "high" if used > 0.9 * n_ctx else "normal"
        if self.context_bar.property("level") != level:
            self.context_bar.setProperty("level", level)
            self.context_bar.style().unpolish(self.context_bar)
            self.context_bar.style().polish(self.context_bar)
        self.context_bar.setToolTip(f"{used:,} of {n_ctx:,} context tokens in use")
