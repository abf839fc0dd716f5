"""Small window fixes: picker while loading, tok/s per chat, closed replies, rename discoverable."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QInputDialog

from tests.ui.conftest import FakeEngine, FakeRegistry

LONG_REPLY = " ".join(f"word{i}" for i in range(400))


def _send(qtbot: Any, window: Any, text: str) -> None:
    window.pane.composer.set_text(text)
    qtbot.keyClick(window.pane.composer.edit, Qt.Key.Key_Return)


def test_picker_says_loading_until_the_list_arrives(qtbot: Any, make_window: Any) -> None:
    window = make_window(FakeEngine(), FakeRegistry(), start=False)
    assert window.model_picker.currentText() == "Loading models…"
    window.model_picker.set_entries([], None)
    assert window.model_picker.currentText() == "No model installed"


def test_speed_is_cleared_in_a_chat_without_a_live_reply(qtbot: Any, make_window: Any) -> None:
    window = make_window(FakeEngine(reply=LONG_REPLY, delay=0.003), FakeRegistry())
    speed = window.status.speed_label
    _send(qtbot, window, "Long one")
    qtbot.waitUntil(lambda: speed.isVisibleTo(window), timeout=5000)
    first = window.chat.conversation_id
    window.sidebar.new_requested.emit()  # the reply keeps going in the first chat
    assert not speed.isVisibleTo(window)
    qtbot.waitUntil(lambda: not window.chat.busy, timeout=20_000)
    assert not speed.isVisibleTo(window)  # neither live batches nor the end brought it back
    window.sidebar.conversation_selected.emit(first)
    assert not speed.isVisibleTo(window)  # the stats of a finished reply are in its footer
    assert "tok/s" in window.pane.view.messages()[-1]._footer.text()


def test_reply_cut_by_closing_says_so_with_its_stats(qtbot: Any, make_window: Any) -> None:
    window = make_window(FakeEngine(reply=LONG_REPLY, delay=0.01), FakeRegistry())
    _send(qtbot, window, "Write a lot")
    qtbot.waitUntil(lambda: window.chat.generating, timeout=5000)
    card = window.pane.view.messages()[-1]
    qtbot.waitUntil(lambda: len(card.body.toPlainText()) > 30, timeout=5000)
    conversation_id = window.chat.conversation_id
    window.close()
    reply = window.store.list_messages(conversation_id)[-1]
    assert reply.status == "stopped" and reply.finish_reason == "closed"
    assert reply.stats["completion_tokens"] > 0
    assert reply.stats["decode_tokens_per_s"] > 0
    again = make_window(FakeEngine(), FakeRegistry())
    again.sidebar.conversation_selected.emit(conversation_id)
    shown = again.pane.view.messages()[-1]
    assert shown._note.text() == "Stopped — the app was closed"
    assert "tok/s" in shown._footer.text()


def test_rename_is_discoverable(qtbot: Any, make_window: Any, monkeypatch: Any) -> None:
    window = make_window(FakeEngine(), FakeRegistry())
    assert "Double-click" in window.sidebar.list.toolTip()
    assert "Double-click" in window.sidebar.list.item(0).toolTip()
    assert window.rename_button.isVisible()
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("Holiday plans", True))
    qtbot.mouseClick(window.rename_button, Qt.MouseButton.LeftButton)
    assert window.title_label.full_text == "Holiday plans"
    assert window.sidebar.list.item(0).text() == "Holiday plans"
