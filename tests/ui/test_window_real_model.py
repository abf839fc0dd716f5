"""The window with the real Engine and the real starter model: stream, stop, regenerate, restart."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from gemma_desktop.core.conversation import build_messages
from gemma_desktop.ui.chat_controller import stored_turns
from tests.ui.conftest import fixture_pdf, write_prefs

pytestmark = pytest.mark.model


def _send(qtbot: Any, window: Any, text: str) -> None:
    window.pane.composer.set_text(text)
    qtbot.keyClick(window.pane.composer.edit, Qt.Key.Key_Return)


def test_stream_stop_regenerate_switch_restart(qtbot: Any, make_window: Any, real_parts: Any,
                                               basedir: Path) -> None:
    write_prefs(basedir, n_ctx=2048, max_tokens=400)
    window = make_window(*real_parts())
    assert window.engine.model is not None
    seen: list[tuple[str, int]] = []
    window.chat._batcher.batch_ready.connect(
        lambda _p: seen.append((window.pane.view.messages()[-1].status,
                                len(window.pane.view.messages()[-1].text))))

    # 1. Tokens stream into the view before the reply ends; Stop keeps the text.
    _send(qtbot, window, "The capital of France is")
    qtbot.waitUntil(lambda: window.chat.generating, timeout=30_000)
    card = window.pane.view.messages()[-1]
    qtbot.waitUntil(lambda: len(card.text) > 20 or not window.chat.generating, timeout=60_000)
    assert any(status == "streaming" and n > 0 for status, n in seen)
    if window.chat.generating:
        qtbot.mouseClick(window.pane.composer.send_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.chat.busy, timeout=30_000)
    conversation_id = window.chat.conversation_id
    reply = window.store.list_messages(conversation_id)[-1]
    assert reply.status in ("stopped", "done")
    assert reply.content and reply.content == card.text
    if reply.status == "stopped":
        assert card._note.text() == "Stopped"
    assert window.status.state_label.text() == "Ready"

    # 2. Regenerate replaces the last reply (one user + one model message remain).
    window.preferences.max_tokens = 24
    qtbot.mouseClick(window.pane.composer.regenerate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.chat.generating, timeout=30_000)
    qtbot.waitUntil(lambda: not window.chat.busy, timeout=60_000)
    stored = window.store.list_messages(conversation_id)
    assert [m.role for m in stored] == ["user", "assistant"]
    assert stored[-1].status == "done"
    assert stored[-1].stats["completion_tokens"] > 0
    assert len(window.pane.view.messages()) == 2

    # 3. Another conversation, then back.
    window.sidebar.new_requested.emit()
    second = window.chat.conversation_id
    _send(qtbot, window, "Paris is a city in")
    qtbot.waitUntil(lambda: not window.chat.busy and
                    len(window.store.list_messages(second)) == 2, timeout=60_000)
    window.sidebar.conversation_selected.emit(conversation_id)
    assert window.pane.view.messages()[0].text == "The capital of France is"

    # 4. The context meter equals the model's own token count of the rendered conversation.
    qtbot.waitUntil(lambda: window.status.n_ctx > 0 and not window.chat._count_timer.isActive(),
                    timeout=10_000)
    messages = build_messages("", stored_turns(window.store, conversation_id))
    rendered, count = window.engine.render(messages).result(timeout=30)
    tokens = window.engine.tokenize_prompt(rendered).result(timeout=30)
    qtbot.waitUntil(lambda: window.status.used == len(tokens), timeout=10_000)
    assert count == len(tokens)
    assert window.status.context_label.text() == f"{len(tokens):,} / 2,048 tokens"

    # 5. Restart: a new window on the same folder shows the history.
    titles = [c.title for c in window.store.list_conversations()]
    window.close()
    again = make_window(*real_parts())
    assert [again.sidebar.list.item(i).text() for i in range(again.sidebar.list.count())] == titles
    again.sidebar.conversation_selected.emit(conversation_id)
    assert [c.role for c in again.pane.view.messages()] == ["user", "assistant"]
    assert again.pane.view.messages()[1].text == stored[-1].content


def _drop(widget: Any, path: Path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    point = QPointF(widget.width() / 2, widget.height() / 2)
    # QDragEnterEvent takes a QPoint (PySide6 < 6.12), QDropEvent a QPointF.
    enter = QDragEnterEvent(point.toPoint(), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, enter)
    assert widget.property("dropActive") is True
    drop = QDropEvent(point, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, drop)


def test_dropped_pdf_reaches_the_prompt(qtbot: Any, make_window: Any, real_parts: Any,
                                        basedir: Path, tmp_path: Path) -> None:
    write_prefs(basedir, n_ctx=4096, max_tokens=16)
    window = make_window(*real_parts())
    pdf = tmp_path / "report März.pdf"
    shutil.copy(fixture_pdf("sf_pdflatex-4-pages.pdf"), pdf)
    _drop(window.pane, pdf)
    _drop(window.pane, fixture_pdf("ocr_linn.pdf"))
    qtbot.waitUntil(lambda: not window.attachments.busy, timeout=60_000)
    chips = window.pane.attachment_bar.chips()
    ready = window.attachments.ready()[0]
    assert chips[0].detail_label.full_text == f"4 pages · {ready.tokens:,} tokens"
    assert ready.tokens == window.engine.count_tokens(ready.document.text).result(timeout=30)
    assert "Scanned, no text to read" in chips[1].detail_label.full_text

    prompts: list[Any] = []
    original = window.engine.generate

    def spy(messages: Any, **kwargs: Any) -> Any:
        prompts.append(messages)
        return original(messages, **kwargs)

    window.engine.generate = spy
    _send(qtbot, window, "What is this document about?")
    qtbot.waitUntil(lambda: not window.chat.busy and bool(prompts), timeout=60_000)
    question = prompts[0][-1].content
    assert ready.document.text[:200] in question
    assert question.rstrip().endswith("What is this document about?")
    user_card = window.pane.view.messages()[0]
    assert user_card._chips_box.isVisibleTo(window)
    records = window.store.list_attachments(window.chat.conversation_id)
    assert [r.name for r in records] == ["report März.pdf"]
    assert records[0].text == ready.document.text


def test_overflow_with_small_context_stores_nothing(qtbot: Any, make_window: Any,
                                                    real_parts: Any, basedir: Path) -> None:
    write_prefs(basedir, n_ctx=512, max_tokens=64)
    window = make_window(*real_parts())
    assert window.engine.model.n_ctx == 512
    window.attachments.add_files([fixture_pdf("sf_pdflatex-4-pages.pdf")])
    qtbot.waitUntil(lambda: not window.attachments.busy, timeout=60_000)
    _send(qtbot, window, "Summarise it")
    qtbot.waitUntil(lambda: window.pane.composer.error_label.isVisible(), timeout=30_000)
    assert "does not fit" in window.pane.composer.error_label.text()
    assert "sf_pdflatex-4-pages.pdf" in window.pane.composer.error_label.text()
    assert window.pane.composer.text == "Summarise it"
    assert len(window.attachments.ready()) == 1
    assert window.store.list_messages(window.chat.conversation_id) == []
    assert window.store.list_attachments(window.chat.conversation_id) == []
