"""The chat flow in the real window with a fake engine: send, stream, stop, regenerate, switch."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt

from tests.ui.conftest import FakeEngine, FakeRegistry, fixture_pdf

LONG_REPLY = " ".join(f"word{i}" for i in range(400))


def _send(qtbot: Any, window: Any, text: str) -> None:
    window.pane.composer.set_text(text)
    qtbot.keyClick(window.pane.composer.edit, Qt.Key.Key_Return)


def test_send_streams_and_stores(qtbot: Any, make_window: Any) -> None:
    window = make_window(FakeEngine(reply="First **bold** answer.\n\nSecond paragraph."),
                         FakeRegistry())
    _send(qtbot, window, "Hello there")
    qtbot.waitUntil(lambda: not window.chat.busy, timeout=10_000)
    cards = window.pane.view.messages()
    assert [c.role for c in cards] == ["user", "assistant"]
    assert "Second paragraph" in cards[1].body.toPlainText()
    assert window.pane.composer.text == ""
    conversation_id = window.chat.conversation_id
    stored = window.store.list_messages(conversation_id)
    assert [m.role for m in stored] == ["user", "assistant"]
    assert stored[1].status == "done"
    assert stored[1].stats["completion_tokens"] > 0
    assert window.store.get_conversation(conversation_id).title == "Hello there"
    assert "tok/s" in cards[1]._footer.text()


def test_shift_enter_inserts_newline(qtbot: Any, make_window: Any) -> None:
    window = make_window(FakeEngine(), FakeRegistry())
    edit = window.pane.composer.edit
    qtbot.keyClicks(edit, "line one")
    qtbot.keyClick(edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(edit, "line two")
    assert window.pane.composer.text == "line one\nline two"
    assert not window.store.list_messages(window.chat.conversation_id)


def test_stop_keeps_text_and_marks_stopped(qtbot: Any, make_window: Any) -> None:
    window = make_window(FakeEngine(reply=LONG_REPLY, delay=0.01), FakeRegistry())
    _send(qtbot, window, "Write a lot")
    qtbot.waitUntil(lambda: window.chat.generating, timeout=5000)
    assert window.pane.composer.send_button.text() == "Stop"
    card = window.pane.view.messages()[-1]
    qtbot.waitUntil(lambda: len(card.body.toPlainText()) > 20, timeout=5000)
    qtbot.keyClick(window.pane.composer.edit, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not window.chat.busy, timeout=5000)
    reply = window.store.list_messages(window.chat.conversation_id)[-1]
    assert reply.status == "stopped"
    assert reply.content.startswith("word0 word1")
    assert len(reply.content) < len(LONG_REPLY)
    assert card._note.text() == "Stopped"
    assert window.pane.composer.send_button.text() == "Send"


def test_regenerate_replaces_last_reply(qtbot: Any, make_window: Any) -> None:
    engine = FakeEngine(reply="first reply")
    window = make_window(engine, FakeRegistry())
    _send(qtbot, window, "Question")
    qtbot.waitUntil(lambda: not window.chat.busy, timeout=5000)
    engine.reply = "second reply"
    assert window.pane.composer.regenerate_button.isEnabled()
    qtbot.mouseClick(window.pane.composer.regenerate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.chat.generating, timeout=5000)
    qtbot.waitUntil(lambda: not window.chat.busy, timeout=5000)
    stored = window.store.list_messages(window.chat.conversation_id)
    assert [m.content for m in stored] == ["Question", "second reply"]
    cards = window.pane.view.messages()
    assert len(cards) == 2 and cards[-1].text == "second reply"
    # The prompt of the regenerated reply ends with the user's question, not the old reply.
    assert engine.generated[-1][-1].content == "Question"


def test_overflow_shows_message_and_stores_nothing(qtbot: Any, make_window: Any) -> None:
    window = make_window(FakeEngine(n_ctx=256), FakeRegistry())
    text = "many words " * 200
    _send(qtbot, window, text)
    qtbot.waitUntil(lambda: window.pane.composer.error_label.isVisible(), timeout=5000)
    assert "does not fit" in window.pane.composer.error_label.text()
    assert window.pane.composer.text == text
    assert window.store.list_messages(window.chat.conversation_id) == []
    assert not window.chat.busy


def test_switch_conversation_while_streaming(qtbot: Any, make_window: Any) -> None:
    window = make_window(FakeEngine(reply=LONG_REPLY, delay=0.003), FakeRegistry())
    _send(qtbot, window, "Long one")
    qtbot.waitUntil(lambda: window.chat.generating, timeout=5000)
    first = window.chat.conversation_id
    window.sidebar.new_requested.emit()
    second = window.chat.conversation_id
    assert second != first
    assert window.pane.view.messages() == []
    assert window.pane.view.empty_state.isVisibleTo(window)
    # Sending elsewhere waits for the running reply (the engine writes one at a time).
    _send(qtbot, window, "ignored while busy")
    assert window.store.list_messages(second) == []
    qtbot.waitUntil(lambda: not window.chat.busy, timeout=20_000)
    assert window.store.list_messages(first)[-1].content == LONG_REPLY
    window.sidebar.conversation_selected.emit(first)
    assert window.pane.view.messages()[-1].text == LONG_REPLY


def test_scanned_pdf_chip_shows_reason_and_is_not_sent(qtbot: Any, make_window: Any) -> None:
    window = make_window(FakeEngine(n_ctx=8192), FakeRegistry())
    window.pane.files_dropped.emit([fixture_pdf("ocr_linn.pdf"),
                                    fixture_pdf("sf_pdflatex-4-pages.pdf")])
    qtbot.waitUntil(lambda: not window.attachments.busy, timeout=30_000)
    chips = window.pane.attachment_bar.chips()
    assert "Scanned, no text to read" in chips[0].detail_label.full_text
    assert chips[0].property("state") == "failed"
    assert chips[1].detail_label.full_text.startswith("4 pages · ")
    _send(qtbot, window, "What is in the documents?")
    qtbot.waitUntil(lambda: not window.chat.busy, timeout=10_000)
    conversation_id = window.chat.conversation_id
    attached = window.store.attachments_by_message(conversation_id)
    names = [a.name for records in attached.values() for a in records]
    assert names == ["sf_pdflatex-4-pages.pdf"], window.pane.composer.error_label.text()
    # The failed chip leaves the tray with the sent one, but a note says it was not sent.
    assert window.pane.attachment_bar.chips() == []
    note = window.pane.composer.error_label
    assert note.isVisible() and note.property("kind") == "note"
    assert note.text().startswith("Not sent: ocr_linn.pdf")


def test_rename_and_delete_conversation(qtbot: Any, make_window: Any, monkeypatch: Any) -> None:
    from PySide6.QtWidgets import QMessageBox

    window = make_window(FakeEngine(), FakeRegistry())
    _send(qtbot, window, "Keep me")
    qtbot.waitUntil(lambda: not window.chat.busy, timeout=5000)
    first = window.chat.conversation_id
    window.sidebar.rename_requested.emit(first, "Renamed chat")
    assert window.sidebar.list.item(0).text() == "Renamed chat"
    assert window.title_label.full_text == "Renamed chat"
    window.sidebar.new_requested.emit()
    _send(qtbot, window, "Newer chat")
    qtbot.waitUntil(lambda: not window.chat.busy, timeout=5000)
    assert window.sidebar.list.item(0).text() == "Newer chat"  # most recent first
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: QMessageBox.StandardButton.Yes)
    window.sidebar.ask_delete(first)
    assert first not in window.sidebar.ids()
    assert all(c.id != first for c in window.store.list_conversations())


def test_context_meter_counts_composer_text(qtbot: Any, make_window: Any) -> None:
    window = make_window(FakeEngine(n_ctx=2048), FakeRegistry())
    qtbot.waitUntil(lambda: window.status.n_ctx == 2048, timeout=5000)
    before = window.status.used
    window.pane.composer.set_text("one two three four five")
    # The fake counts "user:" and the five words, plus two per message.
    qtbot.waitUntil(lambda: window.status.used == before + 8, timeout=5000)
    assert window.status.context_label.text() == f"{window.status.used:,} / 2,048 tokens"


def test_interrupted_reply_is_shown_after_restart(qtbot: Any, make_window: Any,
                                                  basedir: Any) -> None:
    from gemma_desktop.core.history import HistoryStore

    store = HistoryStore(basedir / "history.sqlite3")
    conversation = store.create_conversation("Crashed")
    store.add_message(conversation.id, "user", "Hi")
    store.add_message(conversation.id, "assistant", "Partial answer", status="streaming")
    store.close()
    window = make_window(FakeEngine(), FakeRegistry())
    assert window.chat.conversation_id == conversation.id
    card = window.pane.view.messages()[-1]
    assert card.text == "Partial answer"
    assert card._note.text().startswith("Interrupted")
