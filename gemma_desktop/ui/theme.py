"""Light and dark looks that follow the system: a Fusion palette plus a modest style sheet."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from string import Template

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QColor, QFont, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

from gemma_desktop.ui.markdown_render import DARK_CODE, LIGHT_CODE, CodeColors


@dataclass(frozen=True)
class Colors:
    """The named colours the style sheet and custom widgets use."""

    dark: bool
    window: str
    sidebar: str
    surface: str
    surface_alt: str
    user_bubble: str
    border: str
    text: str
    muted: str
    disabled: str
    accent: str
    accent_hover: str
    accent_text: str
    danger: str
    danger_bg: str
    selection: str
    code: CodeColors


LIGHT = Colors(
    dark=False, window="#f7f7f8", sidebar="#eef0f3", surface="#ffffff", surface_alt="#f1f3f6",
    user_bubble="#e6eefc", border="#dcdfe4", text="#1f2328", muted="#6b7280", disabled="#b3b8c0",
    accent="#2f6feb", accent_hover="#2459c6", accent_text="#ffffff", danger="#c62828",
    danger_bg="#fdecec", selection="#cfe0ff", code=LIGHT_CODE,
)
DARK = Colors(
    dark=True, window="#1e2025", sidebar="#181a1f", surface="#262930", surface_alt="#2d3038",
    user_bubble="#233452", border="#3a3e47", text="#e6e8eb", muted="#9aa1ac", disabled="#5c626d",
    accent="#5b8def", accent_hover="#77a1f2", accent_text="#ffffff", danger="#ff7b72",
    danger_bg="#3d2326", selection="#2f4a7a", code=DARK_CODE,
)


def _palette(c: Colors) -> QPalette:
    """A Fusion palette in the theme's colours."""
    p = QPalette()
    role = QPalette.ColorRole
    for r, value in (
        (role.Window, c.window), (role.WindowText, c.text), (role.Base, c.surface),
        (role.AlternateBase, c.surface_alt), (role.Text, c.text), (role.Button, c.surface),
        (role.ButtonText, c.text), (role.ToolTipBase, c.surface), (role.ToolTipText, c.text),
        (role.Highlight, c.selection), (role.HighlightedText, c.text), (role.Link, c.accent),
        (role.PlaceholderText, c.muted), (role.Mid, c.border), (role.Midlight, c.border),
        (role.BrightText, c.danger),
    ):
        p.setColor(r, QColor(value))
    disabled = QPalette.ColorGroup.Disabled
    for r in (role.Text, role.ButtonText, role.WindowText):
        p.setColor(disabled, r, QColor(c.disabled))
    return p


def style_sheet(c: Colors) -> str:
    """The application style sheet with the theme's colours filled in."""
    source = resources.files("gemma_desktop.resources").joinpath("style.qss").read_text("utf-8")
    values = {k: v for k, v in vars(c).items() if isinstance(v, str)}
    folder = resources.files("gemma_desktop.resources")
    values["arrow"] = str(folder.joinpath("chevron-down.svg")).replace("\\", "/")
    values["check"] = str(folder.joinpath("check.svg")).replace("\\", "/")
    return Template(source).safe_substitute(values)


def system_is_dark() -> bool:
    """True when the OS asks for a dark look."""
    hints = QGuiApplication.styleHints()
    return hints.colorScheme() == Qt.ColorScheme.Dark


class ThemeManager(QObject):
    """Applies the light or dark look and follows the system's colour scheme.

    Threading: GUI thread only. Signals: `theme_changed(Colors)` after a new look is applied.
    """

    theme_changed = Signal(object)

    def __init__(self, app: QApplication, force_dark: bool | None = None) -> None:
        super().__init__(app)
        self._app = app
        self._force = force_dark
        self.colors = LIGHT
        app.setStyle("Fusion")
        font = QFont(app.font())
        font.setPointSizeF(10.5)
        app.setFont(font)
        QGuiApplication.styleHints().colorSchemeChanged.connect(self._on_color_scheme_changed)
        self.apply()

    def set_forced(self, dark: bool | None) -> None:
        """Force light (False) or dark (True), or follow the system again (None)."""
        self._force = dark
        self.apply()

    def apply(self) -> None:
        """Apply the palette and style sheet for the current scheme."""
        dark = self._force if self._force is not None else system_is_dark()
        self.colors = DARK if dark else LIGHT
        self._app.setPalette(_palette(self.colors))
        self._app.setStyleSheet(style_sheet(self.colors))
        self.theme_changed.emit(self.colors)

    @Slot(Qt.ColorScheme)
    def _on_color_scheme_changed(self, _scheme: Qt.ColorScheme) -> None:
        if self._force is None:
            self.apply()
