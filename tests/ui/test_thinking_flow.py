"""Thinking in the window: the Think switch, the live panel, storage, restart, continue."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt

from gemma_desktop.ui.chat_controller import reply_actions
from gemma_desktop.ui.message_widget import note_for
from tests.ui.conftest import FakeEngine, FakeRegistry

THOUGHT = " ".join(f"step{i}" for i in range(40))


def _send(qtbot: Any, window: Any, text: str) -> None:
    window.pane.composer.set_text(text)
    qtbot.keyClick(window.pane.composer.edit, Qt.Key.Key_Return)


def _think_on(qtbot: Any, window: Any) -> None:
    button = window.pane.composer.think_button
    assert button.isEnabled()
    if not button.isChecked():
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert window.pane.composer.thinking


def test_switch_is_off_with_a_reason_for_models_that_cannot_think(
    qtbot: Any, make_window: Any
) -> None:
    window = make_window(FakeEngine(), FakeRegistry())
    button = window.pane.composer.think_button
    assert not button.isEnabled() and not window.pane.composer.thinking
    assert "no thinking switch" in button.toolTip()
    _send(qtbot, window, "Hi")
    qtbot.waitUntil(lambda: not window.chat.busy, timeout=10_000)
    assert window.engine.calls[-1]["thinking"] is False
    card = window.pane.view.messages()[-1]
    assert card.thinking.isHidden()


def test_panel_streams_folds_reopens_and_survives_a_restart(
    qtbot: Any, make_window: Any
) -> None:
    engine = FakeEngine(reply="The answer is **4**.", thought=THOUGHT, delay=0.02)
    window = make_window(engine, FakeRegistry())
    conversation_id = window.chat.conversation_id
    _think_on(qtbot, window)
    assert window.store.get_conversation(conversation_id).thinking is True
    _send(qtbot, window, "What is 2+2?")
    qtbot.waitUntil(lambda: window.chat.generating, timeout=5000)
    card = window.pane.view.messages()[-1]
    panel = card.thinking
    # While thinking: open, live, streaming, and the answer area still empty.
    qtbot.waitUntil(lambda: panel.live and "step3" in panel.text, timeout=5000)
    assert panel.isVisible() and panel.expanded
    assert panel.header_text.startswith("Thinking…")
    assert card.text == ""
    assert window.status.state_label.text() == "Thinking"
    # The answer starts: the panel folds, the answer streams below it.
    qtbot.waitUntil(lambda: "answer" in card.text, timeout=10_000)
    assert not panel.live and not panel.expanded
    assert panel.header_text.startswith("Thought for")
    qtbot.waitUntil(lambda: not window.chat.busy, timeout=10_000)
    assert engine.calls[-1]["thinking"] is True and engine.rendered[-1] is True
    assert "step" not in card.text and card.text == "The answer is **4**."
    assert panel.text == THOUGHT
    # Re-opened by a click; its text can be copied.
    qtbot.mouseClick(panel.findChild(object, "ThinkingHeader"), Qt.MouseButton.LeftButton)
    assert panel.expanded
    stored = window.store.list_messages(conversation_id)[-1]
    assert stored.content == "The answer is **4**." and stored.thinking == THOUGHT
    assert stored.stats["thinking_tokens"] == 40 and stored.stats["thinking_complete"] is True
    # The next turn goes back with the answer only.
    _send(qtbot, window, "And 3+3?")
    qtbot.waitUntil(lambda: not window.chat.busy, timeout=10_000)
    sent = "\n".join(m.content for m in engine.generated[-1])
    assert "The answer is **4**." in sent and "step1" not in sent
    window.close()

    again = make_window(FakeEngine(reply="x", thought="y"), FakeRegistry())
    again.chat.open_conversation(conversation_id)
    assert again.pane.composer.thinking  # the chat's own switch came back
    first_reply = again.pane.view.messages()[1]
    qtbot.waitUntil(first_reply.thinking.isVisible, timeout=5000)
    assert not first_reply.thinking.expanded
    assert first_reply.thinking.text == THOUGHT
    assert first_reply.thinking.header_text.startswith("Thought for")
    assert "40 tokens" in first_reply.thinking.header_text
    assert first_reply.text == "The answer is **4**."


def test_default_from_settings_and_per_chat_choice(qtbot: Any, make_window: Any) -> None:
    window = make_window(FakeEngine(thought="hmm"), FakeRegistry())
    first = window.chat.conversation_id
    assert not window.pane.composer.thinking  # default off
    window.preferences.think_by_default = True
    window.chat.refresh_thinking()
    assert window.pane.composer.thinking
    qtbot.mouseClick(window.pane.composer.think_button, Qt.MouseButton.LeftButton)
    assert window.store.get_conversation(first).thinking is False
    _send(qtbot, window, "Hi")
    qtbot.waitUntil(lambda: not window.chat.busy, timeout=10_000)
    assert window.engine.calls[-1]["thinking"] is False
    qtbot.mouseClick(window.sidebar.new_button, Qt.MouseButton.LeftButton)
    assert window.chat.conversation_id != first
    assert window.pane.composer.thinking  # a new chat follows the default
    window.chat.open_conversation(first)
    assert not window.pane.composer.thinking  # the first chat keeps its own choice


def test_limit_reached_while_thinking_offers_continue_and_answer_now(
    qtbot: Any, make_window: Any
) -> None:
    engine = FakeEngine(reply="Final answer.", thought=THOUGHT, thought_cut=True)
    window = make_window(engine, FakeRegistry())
    _think_on(qtbot, window)
    _send(qtbot, window, "Hard question")
    qtbot.waitUntil(lambda: not window.chat.busy, timeout=10_000)
    card = window.pane.view.messages()[-1]
    assert "still thinking" in card._note.text() and "no answer" in card._note.text()
    assert card.thinking.expanded and "did not finish" in card.thinking.header_text
    labels = [b.text() for b in card.action_buttons()]
    assert labels == ["Continue thinking (+4,096 tokens)", "Answer now"]
    stored = window.store.list_messages(window.chat.conversation_id)[-1]
    assert stored.stats["thinking_complete"] is False and stored.content == ""

    qtbot.mouseClick(card.action_buttons()[1], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.chat.busy, timeout=10_000)
    call = engine.calls[-1]
    assert call["continuation"].close_thought and call["continuation"].thinking == THOUGHT
    assert call["max_tokens"] == window.preferences.max_tokens
    # The same reply row now has its answer; its thought is kept; nothing more is offered.
    stored = window.store.list_messages(window.chat.conversation_id)
    assert len(stored) == 2 and stored[-1].content == "Final answer."
    assert stored[-1].thinking == THOUGHT and stored[-1].status == "done"
    assert card.text == "Final answer." and card.action_buttons() == []
    assert card._note.text() == ""


def test_notes_and_actions_for_every_ending() -> None:
    cut = {"thinking_complete": False, "answered": False, "max_tokens": 1024,
           "length_limit": "max_tokens", "limit_setting": "thinking", "completion_tokens": 1024}
    assert note_for("done", "length", cut) == (
        "The model was still thinking after 1,024 tokens when the limit was reached "
        "(Settings → Max length when thinking), so no answer was written.")
    assert [m for m, _l, _t in reply_actions("done", "length", cut, True)] == ["more", "answer"]
    assert reply_actions("done", "length", cut, False) == []
    full = {**cut, "length_limit": "context"}
    assert "context window filled up" in note_for("done", "length", full)
    assert reply_actions("done", "length", full, True) == []
    ended = {"thinking_complete": False, "answered": False}
    assert "ended its turn while still thinking" in note_for("done", "stop", ended)
    # Stopped mid-thought, or a thought going round in circles: an answer can still be asked.
    assert [m for m, _l, _t in reply_actions("stopped", "cancelled", ended, True)] == [
        "more", "answer"]
    looped = {**ended, "repeated": "the same line"}
    assert "kept repeating “the same line”" in note_for("done", "repetition", looped)
    assert [m for m, _l, _t in reply_actions("done", "repetition", looped, True)] == ["answer"]
    answered = {"max_tokens": 1024, "length_limit": "max_tokens", "limit_setting": "reply"}
    assert note_for("done", "length", answered) == (
        "Reached the length limit (Settings → Max reply length).")
    assert reply_actions("done", "length", answered, True)[0][1] == "Continue (+1,024 tokens)"
    assert reply_actions("done", "stop", {}, True) == []
    assert reply_actions("stopped", "cancelled", {"answered": True}, True) == []
    assert note_for("done", "stop", {"thinking_complete": True, "answered": True}) == ""


def test_context_meter_counts_the_think_switch(qtbot: Any, make_window: Any) -> None:
    window = make_window(FakeEngine(thought="hmm", n_ctx=2048), FakeRegistry())
    window.pane.composer.set_text("one two three")
    qtbot.waitUntil(lambda: window.status.used > 0 and window.engine.rendered
                    and window.engine.rendered[-1] is False, timeout=5000)
    # The fake counts "user:" and the three words, plus two per message.
    qtbot.waitUntil(lambda: window.status.used == 6, timeout=5000)
    qtbot.mouseClick(window.pane.composer.think_button, Qt.MouseButton.LeftButton)
    # The fake prompt gains one word ("<think-on>") with the switch on, like the think token.
    qtbot.waitUntil(lambda: window.status.used == 7, timeout=5000)
    assert window.engine.rendered[-1] is True


def _cut_reply(qtbot: Any, window: Any) -> Any:
    _think_on(qtbot, window)
    _send(qtbot, window, "Hard question")
    qtbot.waitUntil(lambda: not window.chat.busy, timeout=10_000)
    card = window.pane.view.messages()[-1]
    assert len(card.action_buttons()) == 2
    return card


def test_actions_leave_while_another_reply_streams(qtbot: Any, make_window: Any) -> None:
    engine = FakeEngine(reply="Final answer.", thought=THOUGHT, thought_cut=True, delay=0.02)
    window = make_window(engine, FakeRegistry())
    card = _cut_reply(qtbot, window)
    engine.thought_cut = False
    _send(qtbot, window, "Another question")
    qtbot.waitUntil(lambda: window.chat.generating, timeout=5000)
    assert card.action_buttons() == []  # not clickable while the next reply is written
    qtbot.waitUntil(lambda: not window.chat.busy, timeout=10_000)
    assert card.action_buttons() == []  # and no longer the last reply afterwards


def test_actions_come_back_after_a_restart(qtbot: Any, make_window: Any, basedir: Any) -> None:
    window = make_window(FakeEngine(thought=THOUGHT, thought_cut=True), FakeRegistry())
    _cut_reply(qtbot, window)
    window.close()
    # The conversation opens before the model has loaded; the actions appear once it has.
    again = make_window(FakeEngine(thought=THOUGHT, thought_cut=True), FakeRegistry())
    card = again.pane.view.messages()[-1]
    qtbot.waitUntil(lambda: len(card.action_buttons()) == 2, timeout=5000)
    assert "did not finish" in card.thinking.header_text


def test_a_failed_continuation_keeps_the_reply_as_it_was(qtbot: Any, make_window: Any) -> None:
    engine = FakeEngine(reply="Final answer.", thought=THOUGHT, thought_cut=True)
    window = make_window(engine, FakeRegistry())
    card = _cut_reply(qtbot, window)
    before = window.store.list_messages(window.chat.conversation_id)[-1]
    engine.fail_continuation = "The prompt needs 3,000 tokens but the context holds 2,048."
    qtbot.mouseClick(card.action_buttons()[1], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.chat.busy, timeout=10_000)
    after = window.store.list_messages(window.chat.conversation_id)[-1]
    assert (after.status, after.finish_reason, after.stats, after.thinking, after.content) == (
        before.status, before.finish_reason, before.stats, before.thinking, before.content)
    assert "could not be continued" in window.pane.composer.error[0]
    assert "did not finish" in card.thinking.header_text
    assert len(card.action_buttons()) == 2


def test_a_thought_reopened_during_the_answer_stays_open(qtbot: Any, make_window: Any) -> None:
    engine = FakeEngine(reply=" ".join(["word"] * 80), thought="a b c", delay=0.02)
    window = make_window(engine, FakeRegistry())
    _think_on(qtbot, window)
    _send(qtbot, window, "Q")
    qtbot.waitUntil(lambda: window.chat.generating, timeout=5000)
    card = window.pane.view.messages()[-1]
    qtbot.waitUntil(lambda: "word" in card.text, timeout=10_000)
    assert not card.thinking.expanded  # folded when the answer began
    qtbot.mouseClick(card.thinking.findChild(object, "ThinkingHeader"),
                     Qt.MouseButton.LeftButton)
    assert window.chat.generating and card.thinking.expanded
    qtbot.waitUntil(lambda: not window.chat.busy, timeout=10_000)
    assert card.thinking.expanded


def test_fold_setting_off_keeps_the_thought_open(qtbot: Any, make_window: Any) -> None:
    engine = FakeEngine(reply=" ".join(["word"] * 60), thought="a b c", delay=0.02)
    window = make_window(engine, FakeRegistry())
    window.preferences.fold_thinking = False
    _think_on(qtbot, window)
    _send(qtbot, window, "Q")
    conversation_id = window.chat.conversation_id
    qtbot.waitUntil(lambda: window.chat.generating, timeout=5000)
    qtbot.waitUntil(lambda: "word" in window.pane.view.messages()[-1].text, timeout=10_000)
    assert window.pane.view.messages()[-1].thinking.expanded
    # Leaving and coming back while the answer streams shows it open as well.
    window.chat.open_conversation(conversation_id)
    assert window.chat.generating
    assert window.pane.view.messages()[-1].thinking.expanded
    qtbot.waitUntil(lambda: not window.chat.busy, timeout=10_000)
    assert window.pane.view.messages()[-1].thinking.expanded
