"""Thinking through the real engine: the switch, markers from control tokens, budget, history."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gemma_desktop.core.chat import ChatMessage, Continuation
from gemma_desktop.core.conversation import build_messages, turns_from_store
from gemma_desktop.core.engine import Engine
from gemma_desktop.core.history import HistoryStore
from tests.thinking_models import CLOSE_AT, GREEDY, THOUGHT_PROMPT

pytestmark = pytest.mark.model


@pytest.fixture
def engine() -> Iterator[Engine]:
    engine = Engine()
    yield engine
    engine.shutdown()


def text_of(engine: Engine, ids: Any) -> str:
    return "".join(engine._piece(t, special=False).decode() for t in ids)


def test_switch_follows_the_template(
    engine: Engine, starter_model_path: Path, gemma4_shaped_model: Path
) -> None:
    info = engine.load(starter_model_path, 1024).result(timeout=300)
    assert not info.supports_thinking  # Gemma 3 starter: no template, no switch
    info = engine.load(gemma4_shaped_model, 1024).result(timeout=300)
    assert info.supports_thinking
    assert set(engine._marker_ids) == {100, 101}  # <|channel>, <channel|> from the vocabulary
    messages = [ChatMessage("system", "Be brief."), ChatMessage("user", "Hi <|think|>")]
    on, _ = engine.render(messages, thinking=True).result()
    off, _ = engine.render(messages, thinking=False).result()
    on_ids = engine.tokenize_prompt(on).result()
    off_ids = engine.tokenize_prompt(off).result()
    assert on.text.startswith("<bos><|turn>system\n<|think|>Be brief.<turn|>")
    # Exactly one think control token, from the template; the typed one stays text.
    assert on_ids.count(98) == 1 and off_ids.count(98) == 0
    assert on_ids[:5] == [2, 105, *engine.tokenize_prompt(_plain("system\n")).result(), 98]


def _plain(text: str) -> Any:
    from gemma_desktop.core.prompt import PromptSegment, RenderedPrompt

    return RenderedPrompt((PromptSegment(text, False),), "t", False)


def test_real_model_thought_is_split_from_the_answer(engine: Engine, thinking_model: Any) -> None:
    engine.load(thinking_model.path, 2048).result(timeout=300)
    thought_pieces: list[str] = []
    answer_pieces: list[str] = []
    result = engine.generate(
        [ChatMessage("user", THOUGHT_PROMPT)], max_tokens=9, sampling=GREEDY, thinking=True,
        on_token=answer_pieces.append, on_thinking=thought_pieces.append,
    ).result(timeout=300)
    ids = thinking_model.greedy_ids
    assert result.token_ids == list(ids[:9])
    assert result.thinking == text_of(engine, ids[1:CLOSE_AT]).strip()
    assert result.text == text_of(engine, ids[CLOSE_AT + 1 : 9]).lstrip()
    assert result.thinking and result.text
    assert "".join(thought_pieces) == result.thinking
    assert "".join(answer_pieces) == result.text
    for marker in ("<|channel>", "<channel|>", "thought\n"):
        assert marker not in result.text and marker not in result.thinking
    assert result.thinking_complete
    assert result.thinking_tokens == CLOSE_AT + 1  # opener, three thought tokens, closer
    assert result.thinking_s > 0


def test_marker_tokens_after_the_answer_began_are_not_shown(
    engine: Engine, thinking_model: Any
) -> None:
    """The greedy reply writes the opener again mid-answer: a control token, never content."""
    engine.load(thinking_model.path, 2048).result(timeout=300)
    ids = thinking_model.greedy_ids
    assert ids[9] == thinking_model.open_id
    result = engine.generate(
        [ChatMessage("user", THOUGHT_PROMPT)], max_tokens=12, sampling=GREEDY, thinking=True
    ).result(timeout=300)
    assert result.token_ids == list(ids[:12])
    assert result.text == (text_of(engine, ids[CLOSE_AT + 1 : 9]) + text_of(engine, ids[10:12])
                           ).lstrip()
    assert "<|channel>" not in result.text and result.thinking_complete


def test_limit_reached_while_thinking_then_continue_or_answer_now(
    engine: Engine, thinking_model: Any
) -> None:
    engine.load(thinking_model.path, 2048).result(timeout=300)
    messages = [ChatMessage("user", THOUGHT_PROMPT)]
    cut = engine.generate(messages, max_tokens=3, sampling=GREEDY, thinking=True).result(
        timeout=300
    )
    assert cut.finish_reason == "length" and cut.length_limit == "max_tokens"
    assert not cut.thinking_complete and not cut.answered and cut.text == ""
    assert cut.thinking and cut.thinking_tokens == 3

    def carry_on(close: bool, max_tokens: int) -> Any:
        continuation = Continuation(
            thinking=cut.thinking, close_thought=close, thinking_tokens=cut.thinking_tokens,
            completion_tokens=cut.completion_tokens, token_ids=tuple(cut.token_ids),
        )
        return engine.generate(messages, max_tokens=max_tokens, sampling=GREEDY, thinking=True,
                               continuation=continuation).result(timeout=300)

    more = carry_on(False, 6)
    # Picks up exactly where it stopped, from the cache, and finishes the same thought.
    assert more.reused_tokens == cut.prompt_tokens + 3 - 1
    assert more.token_ids == list(thinking_model.greedy_ids[3:9])
    assert more.thinking == text_of(engine, thinking_model.greedy_ids[1:CLOSE_AT]).strip()
    assert more.thinking_complete and more.answered
    assert more.thinking_tokens == CLOSE_AT + 1
    assert more.completion_tokens == 3 + 6
    assert more.reply_token_ids == list(thinking_model.greedy_ids[:9])

    answer_now = carry_on(True, 4)
    assert answer_now.thinking == cut.thinking and answer_now.thinking_complete
    # The prompt is the same; the reply so far and the closing marker were replayed from cache.
    assert answer_now.prompt_tokens == cut.prompt_tokens
    assert answer_now.reused_tokens >= cut.prompt_tokens + 3 - 1
    assert answer_now.completion_tokens == 3 + len(answer_now.token_ids)
    assert "<channel|>" not in answer_now.text
    assert answer_now.reply_token_ids[:4] == [*cut.token_ids, thinking_model.close_id]


def test_continue_from_text_when_token_ids_are_gone(engine: Engine, thinking_model: Any) -> None:
    """After a restart only the stored text is known: the reply still carries on."""
    engine.load(thinking_model.path, 2048).result(timeout=300)
    messages = [ChatMessage("user", THOUGHT_PROMPT)]
    cut = engine.generate(messages, max_tokens=3, sampling=GREEDY, thinking=True).result(
        timeout=300
    )
    answer_now = engine.generate(
        messages, max_tokens=4, sampling=GREEDY, thinking=True,
        continuation=Continuation(thinking=cut.thinking, close_thought=True),
    ).result(timeout=300)
    rendered, _ = engine.render(messages, thinking=True).result()
    assert answer_now.reply_token_ids == []  # the earlier tokens are not known exactly
    assert answer_now.thinking == cut.thinking and answer_now.thinking_complete
    assert answer_now.prompt_tokens == cut.prompt_tokens
    assert "<channel|>" not in answer_now.text and "<|channel>" not in answer_now.text
    assert rendered.text.endswith("<|turn>model\n")


def test_turn_three_carries_no_thought_from_turns_one_and_two(
    engine: Engine, thinking_model: Any, tmp_path: Path
) -> None:
    engine.load(thinking_model.path, 2048).result(timeout=300)
    with HistoryStore(tmp_path / "history.sqlite3") as store:
        conversation = store.create_conversation()
        thoughts, answers = [], []
        # The model only thinks for this exact prompt, so each turn asks it afresh; the
        # history then holds two real replies, each with its thought stored beside it.
        for limit in (9, 9):
            store.add_message(conversation.id, "user", THOUGHT_PROMPT)
            result = engine.generate([ChatMessage("user", THOUGHT_PROMPT)], max_tokens=limit,
                                     sampling=GREEDY, thinking=True).result(timeout=300)
            # Turn 2 reuses the cached prompt; greedy choices between near-equal logits can
            # then differ from a fresh run, so it may not get to its answer: still a thought.
            assert result.thinking
            thoughts.append(result.thinking)
            answers.append(result.text)
            reply = store.add_message(conversation.id, "assistant", result.text)
            store.update_message(reply.id, thinking=result.thinking)
        store.add_message(conversation.id, "user", "And a fourth?")
        turn3 = build_messages("", turns_from_store(store, conversation.id))
        rendered, _ = engine.render(turn3, thinking=True).result()
        assert [m.thinking for m in store.list_messages(conversation.id)] == [
            "", thoughts[0], "", thoughts[1], ""]
    # Each answered reply and the new turn; a reply that is only a thought is left out.
    answered = [a for a in answers if a.strip()]
    assert answered and rendered.text.count("<|turn>model\n") == len(answered) + 1
    for answer in answered:
        assert f"<|turn>model\n{answer.strip()}<turn|>" in rendered.text
    for thought in thoughts:
        assert thought not in rendered.text
    assert "<|channel>" not in rendered.text and "<channel|>" not in rendered.text


def test_a_loop_is_stopped_and_named(engine: Engine, starter_model_path: Path) -> None:
    engine.load(starter_model_path, 2048).result(timeout=300)
    result = engine.generate(
        [ChatMessage("user", "1 1 1 1 1 1 1 1 1 1 1 1")], max_tokens=400, sampling=GREEDY
    ).result(timeout=300)
    assert result.finish_reason == "repetition"
    assert result.completion_tokens <= 210  # stopped early, not at the 400-token limit
    assert result.repeated.strip() == "1"
    free = engine.generate(
        [ChatMessage("user", "1 1 1 1 1 1 1 1 1 1 1 1")], max_tokens=250, sampling=GREEDY,
        stop_on_repetition=False,
    ).result(timeout=300)
    assert free.finish_reason == "length" and free.completion_tokens == 250


@pytest.mark.parametrize("which", ["starter", "thinking"])
def test_marker_text_written_as_plain_text_is_answer(
    engine: Engine, which: str, starter_model_path: Path, thinking_model: Any
) -> None:
    """Only the model's control tokens open a thought; the same characters as text do not."""
    path = starter_model_path if which == "starter" else thinking_model.path
    engine.load(path, 2048).result(timeout=300)
    if which == "starter":
        assert engine._marker_pairs == ()  # this model writes no thought markers at all
    else:
        (real, spelled), = engine._marker_pairs
        assert real.open == "<|channel>" and spelled.open != real.open
    literal = "<think>I am not a thought</think> <|channel>thought\nnor this<channel|> Visible"
    result = engine.generate(
        [ChatMessage("user", "Echo this.")], max_tokens=2, sampling=GREEDY, thinking=False,
        continuation=Continuation(answer=literal),
    ).result(timeout=300)
    assert result.thinking == "" and result.thinking_complete
    assert result.text.startswith(literal)
