"""The settings dialog: the model's maximum context, no silent clipping, all chats vs this chat."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication

from gemma_desktop.ui.settings_dialog import ChatSettings, SettingsDialog
from tests.ui.conftest import FakeEngine, FakeRegistry


def _type(qtbot: Any, box: Any, text: str) -> None:
    box.lineEdit().selectAll()
    qtbot.keyClicks(box.lineEdit(), text)


def test_typed_context_size_is_never_clipped(qtbot: Any) -> None:
    dialog = SettingsDialog(ChatSettings(8192, 1024, ""), 32768)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.n_ctx_limit.text() == "up to 32,768 for this model"
    _type(qtbot, dialog.n_ctx, "65536")
    assert dialog.n_ctx.value() == 65536  # what was typed, not 6,553
    assert dialog.problem_label.isVisible()
    assert "at most 32,768" in dialog.problem_label.text()
    qtbot.keyClick(dialog.n_ctx.lineEdit(), Qt.Key.Key_Return)
    assert dialog.isVisible() and dialog.result() != SettingsDialog.DialogCode.Accepted
    _type(qtbot, dialog.n_ctx, "32768")
    assert not dialog.problem_label.isVisible()
    dialog.accept()
    assert dialog.result() == SettingsDialog.DialogCode.Accepted
    assert dialog.settings().n_ctx == 32768


def test_settings_say_which_apply_to_all_chats(qtbot: Any) -> None:
    from PySide6.QtWidgets import QGroupBox

    dialog = SettingsDialog(ChatSettings(), 32768)
    qtbot.addWidget(dialog)
    groups = {g.title(): g for g in dialog.findChildren(QGroupBox)}
    assert set(groups) == {"All chats", "This chat only"}
    assert groups["All chats"].isAncestorOf(dialog.n_ctx)
    assert groups["All chats"].isAncestorOf(dialog.max_tokens)
    assert groups["This chat only"].isAncestorOf(dialog.system_prompt)


def test_window_offers_the_loaded_models_maximum(qtbot: Any, make_window: Any) -> None:
    window = make_window(FakeEngine(), FakeRegistry())  # trained 32,768; registry says 4,096
    seen: list[Any] = []

    def look() -> None:
        dialog = QApplication.activeModalWidget()
        seen.append(dialog.max_ctx)
        dialog.reject()

    QTimer.singleShot(50, look)
    window.settings_button.click()
    assert seen == [32768]
