"""Test models for thinking: the starter copied with a Gemma 4 template and Gemma 4 markers.

The weights are untouched, so the copies predict exactly what the starter predicts; only the
spelling of some vocabulary entries changes. "Gemma 4 shaped" renames the starter's unused and
turn tokens to Gemma 4's control tokens. The "thinking" copy also respells the first and fifth
tokens the model writes greedily for THOUGHT_PROMPT as <|channel> and <channel|>: that real
model then emits a real thought block (a control-token marker, three thought tokens, the
closing marker) followed by an answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gemma_desktop.core.chat import ChatMessage, SamplingParams
from gemma_desktop.core.engine import Engine
from tests.gguf_copy import copy_gguf
from tests.templates import GEMMA4_SMALL_STYLE

# Gemma 4's ids for its turn markers are Gemma 3's (105/106); 98 stands in for <|think|>.
TURN_TOKENS = {105: "<|turn>", 106: "<turn|>", 98: "<|think|>"}
GEMMA4_TOKENS = {**TURN_TOKENS, 100: "<|channel>", 101: "<channel|>"}
THOUGHT_PROMPT = "List three colours."
GREEDY = SamplingParams(temperature=0.0, seed=1)
CLOSE_AT = 4  # the thought: tokens 1..3 of the greedy reply


@dataclass(frozen=True)
class ThinkingModel:
    """A GGUF whose greedy reply to THOUGHT_PROMPT opens and closes a thought."""

    path: Path
    open_id: int
    close_id: int
    greedy_ids: tuple[int, ...]  # the starter's greedy reply, as ids


def make_gemma4_shaped(starter: Path, dst: Path) -> Path:
    """The starter with a Gemma 4 template and Gemma 4 control-token spellings."""
    return copy_gguf(
        starter, dst, {"tokenizer.chat_template": GEMMA4_SMALL_STYLE}, control_tokens=GEMMA4_TOKENS
    )


def _greedy_reply(path: Path, max_tokens: int) -> tuple[list[int], list[int]]:
    """(prompt ids, greedy reply ids) for THOUGHT_PROMPT with thinking on."""
    engine = Engine()
    try:
        engine.load(path, 2048).result(timeout=300)
        messages = [ChatMessage("user", THOUGHT_PROMPT)]
        rendered, _count = engine.render(messages, thinking=True).result()
        prompt = engine.tokenize_prompt(rendered).result()
        result = engine.generate(
            messages, max_tokens=max_tokens, sampling=GREEDY, thinking=True,
            stop_on_repetition=False,
        ).result(timeout=300)
        return prompt, result.token_ids
    finally:
        engine.shutdown()


def make_thinking_model(starter: Path, gemma4_shaped: Path, dst: Path) -> ThinkingModel:
    """Respell two tokens of the greedy reply as thought markers (checked to be safe)."""
    prompt, reply = _greedy_reply(gemma4_shaped, 12)
    open_id, close_id = reply[0], reply[CLOSE_AT]
    markers = {open_id, close_id}
    if open_id == close_id or markers & set(prompt) or markers & set(reply[1:CLOSE_AT]):
        raise AssertionError(f"greedy reply {reply} cannot carry markers without changing it")
    spelled = {**TURN_TOKENS, open_id: "<|channel>", close_id: "<channel|>"}
    # Greedy by default (its sampling keys), so the window's replies are the same ones too.
    copy_gguf(starter, dst, {"tokenizer.chat_template": GEMMA4_SMALL_STYLE,
                             "general.sampling.temp": 0.0}, control_tokens=spelled)
    prompt_after, reply_after = _greedy_reply(dst, 12)
    # Same prompt ids, so the same predictions: only the spelling of two tokens changed.
    assert prompt_after == prompt and reply_after == reply, (prompt_after, reply_after)
    return ThinkingModel(dst, open_id, close_id, tuple(reply))
