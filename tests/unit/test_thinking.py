"""Reasoning-trace parser: the same split for a stream however it is cut into pieces."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gemma_desktop.core.thinking import (
    GEMMA4_MARKERS,
    GENERIC_MARKERS,
    ThinkingKind,
    ThinkingParser,
    ThinkingState,
    split_thinking,
)

CASES_FILE = Path(__file__).resolve().parents[1] / "cases" / "thinking-streams.json"
CASES: list[dict[str, Any]] = json.loads(CASES_FILE.read_text(encoding="utf-8"))

Result = tuple[str, str, bool]
Piece = tuple[ThinkingKind, str]


def run(chunks: Iterable[str], parser: ThinkingParser | None = None) -> Result:
    """Feed chunks, check piece order and shape, and return (thinking, answer, complete)."""
    parser = parser or ThinkingParser()
    pieces: list[Piece] = []
    for chunk in chunks:
        pieces.extend(check_pieces(parser.feed(chunk)))
    pieces.extend(check_pieces(parser.finish()))
    kinds = [kind for kind, _ in pieces]
    if "answer" in kinds:
        assert "thinking" not in kinds[kinds.index("answer") :], "thinking after the answer began"
    thinking = "".join(text for kind, text in pieces if kind == "thinking")
    answer = "".join(text for kind, text in pieces if kind == "answer")
    return thinking, answer, not parser.unclosed


def check_pieces(pieces: list[Piece]) -> list[Piece]:
    """One return value has no empty pieces and no two neighbours of the same kind."""
    assert all(text for _, text in pieces)
    assert all(a[0] != b[0] for a, b in itertools.pairwise(pieces))
    return pieces


def cut(text: str, positions: Iterable[int]) -> list[str]:
    """Split text at the given positions (sorted, may repeat, so empty chunks occur)."""
    bounds = [0, *sorted(positions), len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


def expected(case: dict[str, Any]) -> Result:
    """The result a case file row asks for."""
    return case["thinking"], case["answer"], case["complete"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case_given_chunks(case: dict[str, Any]) -> None:
    assert run(case["chunks"]) == expected(case)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case_whole_and_split_thinking(case: dict[str, Any]) -> None:
    text = "".join(case["chunks"])
    assert run([text]) == expected(case)
    assert split_thinking(text) == expected(case)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case_one_char_at_a_time(case: dict[str, Any]) -> None:
    assert run(list("".join(case["chunks"]))) == expected(case)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case_every_single_cut(case: dict[str, Any]) -> None:
    text = "".join(case["chunks"])
    for at in range(len(text) + 1):
        assert run(cut(text, [at])) == expected(case), at


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case_every_pair_of_cuts(case: dict[str, Any]) -> None:
    text = "".join(case["chunks"])
    for pair in itertools.combinations_with_replacement(range(len(text) + 1), 2):
        assert run(cut(text, pair)) == expected(case), pair


FRAGMENTS = ["<|channel>", "<channel|>", "thought\n", "<think>", "</think>"]
FRAGMENTS += ["<", "|", ">", "\n", " ", "a", "b"]


@settings(max_examples=300, deadline=None)
@given(
    parts=st.lists(st.sampled_from(FRAGMENTS), max_size=25),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=8),
)
def test_any_cutting_gives_the_whole_text_result(parts: list[str], cuts: list[int]) -> None:
    text = "".join(parts)
    whole = run([text])
    assert whole == split_thinking(text)
    assert run(cut(text, [c % (len(text) + 1) for c in cuts])) == whole


def test_leading_newlines_before_marker_and_after_close() -> None:
    text = "\n\n <|channel>thought\n\n  Think.\n<channel|>\n\n  Answer.\n"
    assert run([text]) == ("Think.", "Answer.\n", True)


def test_whitespace_inside_thought_is_kept_between_words() -> None:
    chunks = ["<think>one", "  \n ", "\t", "two  ", "\n</think>x"]
    assert run(chunks) == ("one  \n \ttwo", "x", True)


def test_label_is_optional() -> None:
    assert run(["<|channel>", "just thinking<channel|>ok"]) == ("just thinking", "ok", True)


def test_incomplete_label_at_end_is_thinking() -> None:
    assert run(["<|channel>", "thoug"]) == ("thoug", "", False)


def test_partial_close_at_end_is_thinking() -> None:
    assert run(["<think>plan </th"]) == ("plan </th", "", False)


def test_second_opener_inside_a_thought_is_text() -> None:
    assert run(["<think>a <think> b</think>c"]) == ("a <think> b", "c", True)


def test_answer_text_is_never_parsed() -> None:
    text = "Hi <|channel>thought\nx<channel|> </think>"
    assert run([text]) == ("", text, True)


def test_only_partial_marker_is_answer() -> None:
    assert run(["<|chan"]) == ("", "<|chan", True)
    assert run(["<", "thi"]) == ("", "<thi", True)


def test_whitespace_only_stream_is_empty() -> None:
    assert run([" \n", "\t"]) == ("", "", True)


def test_in_thought_mode() -> None:
    parser = ThinkingParser(in_thought=GENERIC_MARKERS)
    assert parser.state == "thinking" and parser.thought_opened
    assert run(["step</think>answer"], parser) == ("step", "answer", True)
    assert parser.markers == GENERIC_MARKERS


def test_in_thought_mode_drops_label() -> None:
    parser = ThinkingParser(in_thought=GEMMA4_MARKERS)
    assert run(["thou", "ght\nplan<channel|>go"], parser) == ("plan", "go", True)


def test_in_thought_mode_unclosed() -> None:
    parser = ThinkingParser(in_thought=GENERIC_MARKERS)
    assert run(["still going"], parser) == ("still going", "", False)


def test_marker_set_can_be_restricted() -> None:
    text = "<think>x</think>y"
    assert split_thinking(text, [GEMMA4_MARKERS]) == ("", text, True)
    assert split_thinking(text, [GENERIC_MARKERS]) == ("x", "y", True)


def test_state_transitions() -> None:
    parser = ThinkingParser()
    seen: list[ThinkingState] = [parser.state]
    for chunk in ["\n", "<|chan", "nel>", "thought\n", "idea", "<chan", "nel|>", "\n", "Yes"]:
        parser.feed(chunk)
        seen.append(parser.state)
    assert seen == ["start"] * 3 + ["thinking"] * 4 + ["answer"] * 3
    assert parser.thought_opened and parser.thought_closed
    assert parser.markers == GEMMA4_MARKERS
    assert parser.finish() == []
    assert parser.unclosed is False


def test_plain_answer_state_and_flags() -> None:
    parser = ThinkingParser()
    assert parser.feed("Hello") == [("answer", "Hello")]
    assert parser.state == "answer"
    assert not parser.thought_opened and not parser.thought_closed and parser.markers is None


def test_thinking_is_emitted_promptly() -> None:
    parser = ThinkingParser()
    assert parser.feed("<think>abc") == [("thinking", "abc")]
    # A possible closer start and trailing whitespace wait; the rest does not.
    assert parser.feed(" def </thi") == [("thinking", " def")]
    assert parser.feed("s is not it") == [("thinking", " </this is not it")]


def test_answer_is_emitted_promptly_and_pieces_merge() -> None:
    parser = ThinkingParser()
    assert parser.feed("<think>t</think>  ") == [("thinking", "t")]
    assert parser.feed("a") == [("answer", "a")]
    assert parser.feed("<think>") == [("answer", "<think>")]


def test_one_return_value_can_hold_both_kinds() -> None:
    parser = ThinkingParser()
    assert parser.feed("<think>t</think>a") == [("thinking", "t"), ("answer", "a")]


def test_finish_is_idempotent() -> None:
    parser = ThinkingParser()
    parser.feed("<think>abc  ")
    assert parser.finish() == []
    assert parser.unclosed is True
    assert parser.finish() == []


def test_long_thought_one_char_at_a_time() -> None:
    thought = ("word " * 20_000).strip()
    text = "<|channel>thought\n" + thought + "<channel|>done"
    parser = ThinkingParser()
    thinking: list[str] = []
    answer: list[str] = []
    for char in text:
        for kind, piece in parser.feed(char):
            (thinking if kind == "thinking" else answer).append(piece)
    assert parser.finish() == []
    assert "".join(thinking) == thought and "".join(answer) == "done"
