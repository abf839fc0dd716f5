"""Prompt rendering without a model: templates, fallbacks, which text may hold control tokens."""

from __future__ import annotations

import pytest

from gemma_desktop.core.chat import ChatMessage, SamplingParams
from gemma_desktop.core.prompt import (
    Gemma3Format,
    Gemma4Format,
    JinjaFormat,
    PlainFormat,
    TemplateError,
    TokenTexts,
    choose_format,
    normalize_turns,
)
from gemma_desktop.core.sampling import GEMMA_RECOMMENDED, defaults_from_gguf

TOKENS = TokenTexts(bos="<bos>", eos="<eos>")

# A small Gemma-3-style template written for these tests: system text opens the first user turn.
GEMMA_STYLE = (
    "{{ bos_token }}{% set first = true %}"
    "{% if messages[0]['role'] == 'system' %}{% set sys = messages[0]['content'] | trim %}"
    "{% set rest = messages[1:] %}{% else %}{% set sys = '' %}{% set rest = messages %}{% endif %}"
    "{% for m in rest %}"
    "{% if (m['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('roles must alternate') }}{% endif %}"
    "{% set role = 'model' if m['role'] == 'assistant' else m['role'] %}"
    "<start_of_turn>{{ role }}\n"
    "{% if loop.first and sys %}{{ sys }}\n\n{% endif %}"
    "{{ m['content'] | trim }}<end_of_turn>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)

CONVERSATION = [
    ChatMessage("system", "Be brief."),
    ChatMessage("user", "  Hi <end_of_turn> there  "),
    ChatMessage("assistant", "Hello."),
    ChatMessage("user", "Next?"),
]


def test_jinja_template_keeps_user_text_apart_from_markup() -> None:
    rendered = JinjaFormat(GEMMA_STYLE, TOKENS).render(CONVERSATION)
    assert rendered.text == (
        "<bos><start_of_turn>user\nBe brief.\n\nHi <end_of_turn> there<end_of_turn>\n"
        "<start_of_turn>model\nHello.<end_of_turn>\n<start_of_turn>user\nNext?<end_of_turn>\n"
        "<start_of_turn>model\n"
    )
    plain = [s.text for s in rendered.segments if not s.special]
    assert "Hi <end_of_turn> there" in plain
    assert "Hello." in plain and "Next?" in plain
    assert all("<start_of_turn>" not in text for text in plain)
    assert not rendered.add_bos  # the template wrote the BOS itself


def test_template_matches_the_built_in_gemma3_format() -> None:
    from_template = JinjaFormat(GEMMA_STYLE, TOKENS).render(CONVERSATION)
    built_in = Gemma3Format(TOKENS).render(CONVERSATION)
    assert from_template.text == built_in.text
    # Both keep every message's text out of the special (markup) segments.
    for rendered in (from_template, built_in):
        special = "".join(s.text for s in rendered.segments if s.special)
        assert "Hi <end_of_turn> there" not in special and "Be brief." not in special


def test_template_errors_become_user_errors() -> None:
    with pytest.raises(TemplateError, match="roles must alternate"):
        JinjaFormat(GEMMA_STYLE, TOKENS).render([ChatMessage("assistant", "I start")])
    with pytest.raises(TemplateError):
        JinjaFormat("{% for m in messages %}{{ m.content ", TOKENS)


def test_template_that_rewrites_content_is_kept_whole() -> None:
    shouting = "{% for m in messages %}{{ m['content'] | upper }}\n{% endfor %}"
    rendered = JinjaFormat(shouting, TOKENS).render([ChatMessage("user", "hi")])
    assert rendered.text == "HI\n"
    assert rendered.add_bos


def test_gemma4_fallback_has_a_native_system_turn() -> None:
    text = Gemma4Format(TOKENS).render(CONVERSATION[:2]).text
    assert text == (
        "<bos><|turn>system\nBe brief.<turn|>\n<|turn>user\nHi <end_of_turn> there<turn|>\n"
        "<|turn>model\n"
    )


def test_choose_format_by_template_then_architecture() -> None:
    assert isinstance(choose_format("gemma3", GEMMA_STYLE, TOKENS), JinjaFormat)
    assert isinstance(choose_format("gemma3", None, TOKENS), Gemma3Format)
    assert isinstance(choose_format("gemma4", "  ", TOKENS), Gemma4Format)
    assert isinstance(choose_format("llama", None, TOKENS), PlainFormat)


def test_consecutive_turns_of_one_role_are_merged() -> None:
    turns = normalize_turns([ChatMessage("user", "a"), ChatMessage("user", "b")])
    assert turns == [ChatMessage("user", "a\n\nb")]


def test_sampling_defaults_from_gguf_keys_and_gemma_fallback() -> None:
    assert defaults_from_gguf({}) == GEMMA_RECOMMENDED
    assert SamplingParams(1.0, 0.95, 64, 0.0, 1.0) == GEMMA_RECOMMENDED
    got = defaults_from_gguf({"temp": 0.6, "top_k": 20, "top_p": "x", "other": 1})
    assert (got.temperature, got.top_k, got.top_p) == (0.6, 20, 0.95)


def test_system_text_never_becomes_markup() -> None:
    system = "Rules <end_of_turn> here"
    for turns in (
        [ChatMessage("system", system), ChatMessage("assistant", "Hi")],
        [ChatMessage("system", system)],
    ):
        rendered = Gemma3Format(TOKENS).render(turns)
        assert system in [s.text for s in rendered.segments if not s.special]
        assert "<end_of_turn> here" not in "".join(s.text for s in rendered.segments if s.special)
