"""Thinking in prompts: the switch, where the think token goes, and what earlier turns keep."""

from __future__ import annotations

import pytest

from gemma_desktop.core.chat import ChatMessage
from gemma_desktop.core.prompt import (
    Gemma3Format,
    Gemma4Format,
    JinjaFormat,
    PlainFormat,
    TokenTexts,
    prompt_opens_thought,
    template_supports_thinking,
)
from gemma_desktop.core.thinking import GEMMA4_MARKERS, GENERIC_MARKERS
from tests.templates import GEMMA4_LARGE_STYLE, GEMMA4_SMALL_STYLE, OPENS_THINK_STYLE
from tests.unit.test_prompt import GEMMA_STYLE

TOKENS = TokenTexts()
CHAT = [ChatMessage("system", "Be exact."), ChatMessage("user", "What is 2+2?")]


def special_text(rendered: object) -> str:
    return "".join(s.text for s in rendered.segments if s.special)  # type: ignore[attr-defined]


def plain_text(rendered: object) -> str:
    return "".join(s.text for s in rendered.segments if not s.special)  # type: ignore[attr-defined]


@pytest.mark.parametrize("template", [GEMMA4_SMALL_STYLE, GEMMA4_LARGE_STYLE])
def test_gemma4_template_puts_the_think_token_at_the_start_of_the_system_turn(
    template: str,
) -> None:
    fmt = JinjaFormat(template, TOKENS)
    assert fmt.supports_thinking and fmt.thought_markers == GEMMA4_MARKERS
    on = fmt.render(CHAT, thinking=True)
    assert on.text == (
        "<bos><|turn>system\n<|think|>Be exact.<turn|>\n<|turn>user\nWhat is 2+2?<turn|>\n"
        "<|turn>model\n"
    )
    # The think token is markup (tokenized as a control token), the messages are not.
    assert "<|think|>" in special_text(on) and "<|think|>" not in plain_text(on)
    assert "Be exact." in plain_text(on) and "What is 2+2?" in plain_text(on)
    assert prompt_opens_thought(on.text) is None
    off = fmt.render(CHAT, thinking=False)
    assert "<|think|>" not in off.text


def test_thinking_opens_a_system_turn_when_there_is_none() -> None:
    for fmt in (JinjaFormat(GEMMA4_SMALL_STYLE, TOKENS), Gemma4Format(TOKENS)):
        rendered = fmt.render([ChatMessage("user", "Hi")], thinking=True)
        assert rendered.text.startswith("<bos><|turn>system\n<|think|><turn|>\n<|turn>user\nHi")
        assert "<|turn>system" not in fmt.render([ChatMessage("user", "Hi")]).text


def test_built_in_gemma4_format_matches_the_template() -> None:
    for thinking in (False, True):
        ours = Gemma4Format(TOKENS).render(CHAT, thinking=thinking)
        theirs = JinjaFormat(GEMMA4_SMALL_STYLE, TOKENS).render(CHAT, thinking=thinking)
        assert ours.text == theirs.text
        assert special_text(ours) == special_text(theirs)


def test_large_gemma4_closes_an_empty_thought_when_thinking_is_off() -> None:
    off = JinjaFormat(GEMMA4_LARGE_STYLE, TOKENS).render(CHAT, thinking=False)
    assert off.text.endswith("<|turn>model\n<|channel>thought\n<channel|>")
    assert prompt_opens_thought(off.text) is None  # closed: the reply is all answer
    on = JinjaFormat(GEMMA4_LARGE_STYLE, TOKENS).render(CHAT, thinking=True)
    assert on.text.endswith("<|turn>model\n")


def test_template_that_opens_the_thought_is_detected() -> None:
    fmt = JinjaFormat(OPENS_THINK_STYLE, TOKENS)
    assert fmt.supports_thinking and fmt.thought_markers == GENERIC_MARKERS
    assert prompt_opens_thought(fmt.render(CHAT, thinking=True).text) == GENERIC_MARKERS
    # Thinking off is passed explicitly, so such a template closes the block itself.
    assert prompt_opens_thought(fmt.render(CHAT, thinking=False).text) is None
    # A typed "<think>" in the user's message does not count: markup follows it.
    typed = fmt.render([ChatMessage("user", "what does <think> do")], thinking=False)
    assert prompt_opens_thought(typed.text) is None


def test_models_without_a_switch_do_not_support_thinking() -> None:
    assert not JinjaFormat(GEMMA_STYLE, TOKENS).supports_thinking
    assert not Gemma3Format(TOKENS).supports_thinking
    assert not PlainFormat().supports_thinking
    assert Gemma4Format(TOKENS).supports_thinking
    assert template_supports_thinking("{% if enable_thinking %}x{% endif %}")
    assert template_supports_thinking("<|think|>")
    assert not template_supports_thinking(None)
    assert not template_supports_thinking("{{ messages }}")
    # The switch is ignored by formats without one: the prompt is the same either way.
    fmt = Gemma3Format(TOKENS)
    assert fmt.render(CHAT, thinking=True).text == fmt.render(CHAT).text


def test_earlier_model_turns_go_back_with_their_answer_only() -> None:
    """Even a stored reply that still holds its thought is sent back as the answer alone."""
    history = [
        ChatMessage("user", "Q1"),
        ChatMessage("assistant", "<|channel>thought\nSECRET-THOUGHT-1<channel|>Answer one."),
        ChatMessage("user", "Q2"),
    ]
    rendered = JinjaFormat(GEMMA4_SMALL_STYLE, TOKENS).render(history, thinking=True)
    assert "SECRET-THOUGHT-1" not in rendered.text
    assert "<|turn>model\nAnswer one.<turn|>" in rendered.text
