"""Notices a generation stuck repeating one token or a short phrase, in O(max_period) per token."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Loop:
    """A detected repetition: its period, how often it repeated, and one period of tokens."""

    period: int
    repeats: int
    tokens: tuple[int, ...]


class RepetitionDetector:
    """Notices when generated tokens keep repeating one token or a short phrase.

    A loop is reported once. While the same loop goes on, push() returns None; once it breaks
    (a token differs from the one a period earlier), a new loop can be reported, after filling a
    whole span again.
    """

    def __init__(self, max_period: int = 64, min_span: int = 64, min_repeats: int = 4) -> None:
        """Watch periods 1..max_period; a loop must span max(min_span, min_repeats * period)."""
        if max_period < 1 or min_span < 1 or min_repeats < 1:
            raise ValueError("max_period, min_span and min_repeats must be at least 1")
        self._max_period = max_period
        self._min_span = min_span
        self._min_repeats = min_repeats
        self._ring = [0] * max_period
        self._runs = [0] * (max_period + 1)
        self._pos = 0
        self._seen = 0
        self._reported: int | None = None

    def reset(self) -> None:
        """Forget every token pushed so far."""
        self._runs = [0] * (self._max_period + 1)
        self._pos = 0
        self._seen = 0
        self._reported = None

    @classmethod
    def for_replies(cls) -> RepetitionDetector:
        """The settings chat replies use: a degenerate loop ends after ~200 wasted tokens, while
        a requested repetition ("write hello 100 times") or a long row of zeros in code does not.
        """
        return cls(max_period=128, min_span=200, min_repeats=5)

    def push(self, token: int) -> Loop | None:
        """Record one generated token; return the loop the first time one is detected."""
        size = self._max_period
        found: int | None = None
        for period in range(1, min(self._seen, size) + 1):
            if self._ring[(self._pos - period) % size] == token:
                self._runs[period] += 1
                if found is None and self._is_loop(period):
                    found = period
            else:
                self._runs[period] = 0
        self._ring[self._pos] = token
        self._pos = (self._pos + 1) % size
        self._seen += 1
        if self._reported is not None:
            if self._runs[self._reported] > 0:
                return None
            self._reported = None
        if found is None:
            return None
        self._reported = found
        return self._loop(found)

    def _is_loop(self, period: int) -> bool:
        """The current run at `period` is long enough to count as a loop."""
        span = self._runs[period] + period
        return span >= max(self._min_span, self._min_repeats * period)

    def _loop(self, period: int) -> Loop:
        """Describe the loop at `period`, its tokens starting where the repetition started."""
        span = self._runs[period] + period
        size = self._max_period
        last = [self._ring[(self._pos - period + i) % size] for i in range(period)]
        # The span is periodic, so its first period is the last one rotated by span % period.
        tokens = tuple(last[(i - span) % period] for i in range(period))
        return Loop(period=period, repeats=span // period, tokens=tokens)


def describe_loop(loop: Loop, text: str, limit: int = 60) -> str:
    """A short quote of one period's text: from a sentence or word start, cut at a word."""
    # `loop` is part of the signature so callers hand over the whole finding; the quote needs
    # only the text today.
    del loop
    quote = " ".join(_from_a_start(text).split())
    if len(quote) <= limit:
        return quote
    cut = quote[: max(limit - 1, 0)]
    space = cut.rfind(" ")
    if space >= limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:") + "…"


def _from_a_start(text: str) -> str:
    """A period's text turned round (it repeats, so any start is the same loop) to begin at a
    sentence's start, else at a word's, rather than mid-sentence or mid-word."""
    stripped = text.strip()
    if not stripped:
        return text
    if not (stripped[0].isupper() or stripped[-1] in ".!?"):
        sentence = re.search(r"[.!?]\s+(?=\S)", text)
        if sentence is not None:
            return text[sentence.end() :] + text[: sentence.end()]
    if not text[0].isspace() and not text[-1].isspace():  # the repetition starts mid-word
        word = re.search(r"\s+(?=\S)", text)
        if word is not None:
            return text[word.end() :] + text[: word.end()]
    return text
