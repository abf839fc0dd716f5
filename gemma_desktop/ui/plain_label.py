"""A QLabel that shows its text as written, with an object name for the style sheet."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel


def plain_label(text: str, name: str, *, wrap: bool = False) -> QLabel:
    """A label named for the style sheet; file and model names are never read as rich text."""
    label = QLabel(text)
    label.setObjectName(name)
    label.setWordWrap(wrap)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label
