"""Per-conversation drafts: text, pending attachments and the inline error stay with their chat."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt

from tests.ui.conftest import FakeEngine, FakeModelInfo, FakeRegistry, fixture_pdf

TOO_LONG = "many words " * 200


def _send(qtbot: Any, window: Any, text: str) -> None:
    window.pane.composer.set_text(text)
    qtbot.keyClick(window.pane.composer.edit, Qt.Key.Key_Return)


def _overflow(qtbot: Any, window: Any) -> None:
    window.engine.model = FakeModelInfo(n_ctx=256)
    _send(qtbot, window, TOO_LONG)
    qtbot.waitUntil(lambda: window.pane.composer.error_label.isVisible(), timeout=5000)
    assert "does not fit" in window.pane.composer.error_label.text()
    qtbot.waitUntil(lambda: not window.chat.busy, timeout=5000)


def test_draft_attachments_and_error_stay_with_their_chat(qtbot: Any, make_window: Any) -> None:
    window = make_window(FakeEngine(n_ctx=8192), FakeRegistry())
    composer, bar = window.pane.composer, window.pane.attachment_bar
    first = window.chat.conversation_id
    window.pane.files_dropped.emit([fixture_pdf("sf_pdflatex-4-pages.pdf")])
    qtbot.waitUntil(lambda: bool(window.attachments.ready()), timeout=30_000)
    _overflow(qtbot, window)
    window.engine.model = FakeModelInfo(n_ctx=8192)
    # A new chat starts empty: no chip, no text, no red error.
    window.store.add_message(first, "user", "so the first chat is not reused")
    window.sidebar.new_requested.emit()
    second = window.chat.conversation_id
    assert second != first
    assert composer.text == "" and not composer.error_label.isVisible()
    assert bar.chips() == [] and not bar.isVisibleTo(window)
    # A send here does not take the other chat's file.
    _send(qtbot, window, "Hello")
    qtbot.waitUntil(lambda: not window.chat.busy, timeout=10_000)
    assert window.store.attachments_by_message(second) == {}
    composer.set_text("draft of the second chat")
    # Back in the first chat: its own text, chip and error are back.
    window.sidebar.conversation_selected.emit(first)
    assert composer.text == TOO_LONG
    assert [c.name_label.full_text for c in bar.chips()] == ["sf_pdflatex-4-pages.pdf"]
    assert composer.error_label.isVisible()
    assert "does not fit" in composer.error_label.text()
    window.sidebar.conversation_selected.emit(second)
    assert composer.text == "draft of the second chat"
    assert bar.chips() == [] and not composer.error_label.isVisible()


def test_fit_error_clears_when_the_draft_or_settings_change(qtbot: Any, make_window: Any,
                                                            monkeypatch: Any) -> None:
    from gemma_desktop.ui.settings_dialog import ChatSettings, SettingsDialog

    window = make_window(FakeEngine(n_ctx=8192), FakeRegistry())
    error = window.pane.composer.error_label
    _overflow(qtbot, window)
    qtbot.keyClicks(window.pane.composer.edit, "x")  # the draft changed
    assert not error.isVisible()
    _overflow(qtbot, window)
    window.pane.files_dropped.emit([fixture_pdf("sf_pdflatex-4-pages.pdf")])  # attachments
    qtbot.waitUntil(lambda: not error.isVisible(), timeout=5000)
    qtbot.waitUntil(lambda: not window.attachments.busy, timeout=30_000)
    _overflow(qtbot, window)
    monkeypatch.setattr(SettingsDialog, "exec", lambda self: SettingsDialog.DialogCode.Accepted)
    monkeypatch.setattr(SettingsDialog, "settings",
                        lambda self: ChatSettings(16384, window.preferences.max_tokens, ""))
    window._on_settings_clicked()  # the context size changed
    assert not error.isVisible()
    qtbot.waitUntil(lambda: window.status.state_label.text() == "Ready", timeout=5000)
