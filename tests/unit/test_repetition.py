"""Loop detector: repeated tokens or phrases are noticed, ordinary text is not."""

from __future__ import annotations

import random
from collections.abc import Iterable

import pytest

from gemma_desktop.core.repetition import Loop, RepetitionDetector, describe_loop


def first_loop(
    tokens: Iterable[int], detector: RepetitionDetector | None = None
) -> tuple[int, Loop]:
    """(1-based count of tokens pushed, loop) at the first detection; fails if there is none."""
    detector = detector or RepetitionDetector()
    for count, token in enumerate(tokens, start=1):
        loop = detector.push(token)
        if loop is not None:
            return count, loop
    raise AssertionError("no loop detected")


def never_loops(tokens: Iterable[int], detector: RepetitionDetector | None = None) -> bool:
    """True when no push reports a loop."""
    detector = detector or RepetitionDetector()
    return all(detector.push(token) is None for token in tokens)


def phrase(period: int, start: int = 100) -> list[int]:
    """A phrase of distinct tokens."""
    return list(range(start, start + period))


def test_identical_tokens_trigger_at_64() -> None:
    assert never_loops([7] * 63)
    count, loop = first_loop([7] * 100)
    assert count == 64
    assert loop == Loop(period=1, repeats=64, tokens=(7,))


def test_phrase_of_ten_triggers_at_64() -> None:
    count, loop = first_loop(phrase(10) * 20)
    assert count == 64
    assert loop == Loop(period=10, repeats=6, tokens=tuple(phrase(10)))


def test_sentence_of_forty_needs_160_tokens() -> None:
    assert never_loops((phrase(40) * 4)[:159])
    count, loop = first_loop(phrase(40) * 10)
    assert count == 160
    assert loop == Loop(period=40, repeats=4, tokens=tuple(phrase(40)))


def test_loop_after_ordinary_text_reports_its_own_start() -> None:
    tokens = list(range(1000, 1030)) + (phrase(5) * 30)[2:]
    count, loop = first_loop(tokens)
    assert count == 30 + 64
    # Cut into the phrase mid-way, so one period starts where the repetition started.
    assert loop.period == 5 and loop.tokens == (102, 103, 104, 100, 101)
    assert loop.repeats == 64 // 5


def test_smallest_period_is_preferred() -> None:
    # Period 1 also satisfies period 2, 3...; the report must name period 1.
    _, loop = first_loop([3] * 200, RepetitionDetector(min_span=4, min_repeats=4))
    assert loop.period == 1 and loop.repeats == 4


def test_periods_beyond_max_period_are_ignored() -> None:
    assert never_loops(phrase(65) * 5)
    assert never_loops(phrase(9) * 20, RepetitionDetector(max_period=8))


def test_counting_sequence_never_triggers() -> None:
    assert never_loops(range(10_000))


def test_random_tokens_never_trigger() -> None:
    rng = random.Random(1234)
    assert never_loops(rng.randrange(1000) for _ in range(20_000))


def test_short_table_pattern_does_not_trigger() -> None:
    assert never_loops([10, 11, 12] * 15)


def test_reset_forgets_history() -> None:
    detector = RepetitionDetector()
    assert never_loops([5] * 63, detector)
    detector.reset()
    assert never_loops([5] * 63, detector)
    assert detector.push(5) is not None


def test_reported_once_while_the_loop_goes_on() -> None:
    detector = RepetitionDetector()
    first_loop([1] * 64, detector)
    assert never_loops([1] * 500, detector)


def test_new_loop_after_the_old_one_breaks() -> None:
    detector = RepetitionDetector()
    first_loop([1] * 64, detector)
    count, loop = first_loop([2] * 100, detector)
    assert count == 64
    assert loop == Loop(period=1, repeats=64, tokens=(2,))


def test_invalid_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        RepetitionDetector(max_period=0)


def test_describe_loop_collapses_and_cuts() -> None:
    loop = Loop(period=3, repeats=10, tokens=(1, 2, 3))
    assert describe_loop(loop, "  the\n\n same\tthing ") == "the same thing"
    assert describe_loop(loop, " \n\t") == ""
    long = describe_loop(loop, "x" * 100, limit=10)
    assert long == "x" * 9 + "…"
    assert describe_loop(loop, "y" * 10, limit=10) == "y" * 10


def test_reply_settings_let_requested_repetition_through() -> None:
    # "hello" written 100 times (one token each, period 1) and a 2-token item 90 times.
    assert never_loops([42] * 100, RepetitionDetector.for_replies())
    assert never_loops([42, 43] * 90, RepetitionDetector.for_replies())
    count, loop = first_loop([42, 43] * 200, RepetitionDetector.for_replies())
    assert count == 200 and loop.period == 2
    # A 60-token paragraph said again and again is stopped after five times.
    count, loop = first_loop(phrase(60) * 10, RepetitionDetector.for_replies())
    assert count == 300 and loop.period == 60
    # Longer periods up to 128 tokens are watched too.
    count, loop = first_loop(phrase(120) * 8, RepetitionDetector.for_replies())
    assert count == 600 and loop.period == 120


def test_quote_starts_at_a_sentence_or_word_and_ends_at_a_word() -> None:
    loop = Loop(period=20, repeats=5, tokens=tuple(range(20)))
    # Caught mid-sentence: the quote starts where a sentence starts.
    assert describe_loop(loop, "blue light. The source is a ") == "The source is a blue light."
    # Caught mid-word: it starts at the next word.
    assert describe_loop(loop, "ing again and again and go") == "again and again and going"
    # Cut at a word, not inside one.
    long = describe_loop(loop, "The lamp is red. " + "word " * 30, limit=30)
    assert long == "The lamp is red. word word…"
