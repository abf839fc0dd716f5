"""The status bar: model name, what the engine is doing, speed, and the context meter."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QSizePolicy,
    QStatusBar,
    QToolButton,
    QWidget,
)

CONTEXT_BAR_WIDTH = 120


class ElidedLabel(QLabel):
    """A one-line label that shortens its text with '…' instead of forcing the layout wider.

    Threading: GUI thread only; no signals. The full text stays in `full_text` and the tooltip.
    """

    def __init__(self, text: str = "", parent: QWidget | None = None,
                 mode: Qt.TextElideMode = Qt.TextElideMode.ElideMiddle) -> None:
        super().__init__(parent)
        self._mode = mode
        self.full_text = ""
        # Preferred with a small minimum: as wide as the name when there is room, else elided.
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(40)
        self.set_full_text(text)

    def set_full_text(self, text: str) -> None:
        """Show `text`, elided to the width available."""
        self.full_text = text
        self.setToolTip(text)
        self._elide()

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        hint.setWidth(self.fontMetrics().horizontalAdvance(self.full_text) + 20)
        return hint

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        margins = self.contentsMargins()
        width = max(0, self.width() - margins.left() - margins.right() - 16)
        self.setText(self.fontMetrics().elidedText(self.full_text, self._mode, width))


class StatusBar(QStatusBar):
    """Shows model, state ('Loading model…', 'Reading prompt 45 %', 'Generating', 'Ready'),
    tokens per second and 'used / n_ctx tokens' with a slim bar.

    Everything sits in one row with its own margins, so the meter never touches the window
    edge; the model name is elided (full name in its tooltip) rather than pushing the meter
    out of view on narrow windows.

    Threading: GUI thread only. Signal: `download_clicked()` when the download note is clicked.
    """

    download_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizeGripEnabled(False)
        self.setContentsMargins(0, 0, 0, 0)
        row = QWidget()
        row.setObjectName("StatusRow")
        layout = QHBoxLayout(row)
        layout.setContentsMargins(12, 2, 20, 2)
        layout.setSpacing(16)
        self.model_label = ElidedLabel("No model")
        self.state_label = QLabel("Starting…")
        self.speed_label = QLabel("")
        self.context_label = QLabel("")
        self.context_bar = QProgressBar()
        self.context_bar.setObjectName("ContextBar")
        self.context_bar.setTextVisible(False)
        self.context_bar.setFixedWidth(CONTEXT_BAR_WIDTH)
        self.context_bar.setRange(0, 1)
        self.context_bar.setValue(0)
        # A download goes on when its dialog is closed; this note says so and reopens it.
        self.download_button = QToolButton()
        self.download_button.setObjectName("StatusDownload")
        self.download_button.setProperty("flat", True)
        self.download_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.download_button.setToolTip("Downloads: click to open Models")
        self.download_button.clicked.connect(self.download_clicked)
        self.download_button.hide()
        for label in (self.state_label, self.speed_label, self.context_label):
            label.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Preferred)
        layout.addWidget(self.model_label)
        layout.addWidget(self.state_label)
        layout.addStretch(1)
        layout.addWidget(self.download_button)
        layout.addWidget(self.speed_label)
        layout.addWidget(self.context_label)
        layout.addWidget(self.context_bar, 0, Qt.AlignmentFlag.AlignVCenter)
        self.addPermanentWidget(row, 1)
        self.used = 0
        self.n_ctx = 0

    def set_model(self, name: str) -> None:
        """The loaded model's name."""
        self.model_label.set_full_text(name)

    def set_state(self, text: str) -> None:
        """What is happening now."""
        self.state_label.setText(text)

    def set_download(self, text: str | None) -> None:
        """The download note ("Downloading X · 34 %"); None hides it."""
        self.download_button.setText(text or "")
        self.download_button.setVisible(bool(text))

    def set_prompt_progress(self, done: int, total: int) -> None:
        """'Reading prompt 45 %' while the prompt is processed."""
        percent = int(100 * done / total) if total else 100
        self.set_state(f"Reading prompt {percent} %")

    def set_speed(self, tokens_per_s: float | None) -> None:
        """Tokens per second of the current or last reply."""
        self.speed_label.setText(f"{tokens_per_s:.1f} tok/s" if tokens_per_s else "")
        self.speed_label.setVisible(bool(tokens_per_s))

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
