"""Splits streamed model output into its reasoning trace and its answer, chunk by chunk."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

ThinkingKind = Literal["thinking", "answer"]
ThinkingState = Literal["start", "thinking", "answer"]
Piece = tuple[ThinkingKind, str]

# Internal phases: "label" reads as "thinking" to callers, "after" (the closer) as "answer".
_Phase = Literal["start", "label", "thinking", "after", "answer"]


@dataclass(frozen=True)
class ThinkingMarkers:
    """The text that opens and closes a thought block, and the channel label after the opener."""

    open: str
    close: str
    label: str = ""


GEMMA4_MARKERS = ThinkingMarkers("<|channel>", "<channel|>", "thought\n")
GENERIC_MARKERS = ThinkingMarkers("<think>", "</think>")
DEFAULT_MARKERS: tuple[ThinkingMarkers, ...] = (GEMMA4_MARKERS, GENERIC_MARKERS)


def _add(out: list[Piece], kind: ThinkingKind, text: str) -> None:
    """Append a piece, merging it into the previous one of the same kind; skip empty text."""
    if not text:
        return
    if out and out[-1][0] == kind:
        out[-1] = (kind, out[-1][1] + text)
    else:
        out.append((kind, text))


def _held_close_prefix(text: str, close: str) -> int:
    """Length of the longest end of `text` that could be the start of `close`."""
    for size in range(min(len(close) - 1, len(text)), 0, -1):
        if text.endswith(close[:size]):
            return size
    return 0


class ThinkingParser:
    """Incremental splitter: feed stream pieces, get (kind, text) pieces back in order."""

    def __init__(
        self,
        markers: Sequence[ThinkingMarkers] = DEFAULT_MARKERS,
        *,
        in_thought: ThinkingMarkers | None = None,
    ) -> None:
        """Start before any output, or inside a thought the prompt already opened."""
        self._choices = tuple(markers)
        self._phase: _Phase = "start"
        self._markers: ThinkingMarkers | None = None
        self._pending = ""
        # Trailing whitespace of the thought, emitted only if more thinking follows.
        self._spaces: list[str] = []
        self._lead = True
        self._opened = False
        self._closed = False
        self._finished = False
        self.unclosed = False
        if in_thought is not None:
            self._open(in_thought)

    @property
    def state(self) -> ThinkingState:
        """Whether output is still undecided, inside a thought, or in the answer."""
        if self._phase == "start":
            return "start"
        if self._phase in ("label", "thinking"):
            return "thinking"
        return "answer"

    @property
    def thought_opened(self) -> bool:
        """A thought block was seen, even an empty one."""
        return self._opened

    @property
    def thought_closed(self) -> bool:
        """The thought block was closed by its marker."""
        return self._closed

    @property
    def markers(self) -> ThinkingMarkers | None:
        """The marker pair that opened the thought block, if any."""
        return self._markers

    def feed(self, chunk: str) -> list[Piece]:
        """Take the next piece of the stream; return the text that is now certain."""
        out: list[Piece] = []
        self._step(chunk, out, final=False)
        return out

    def finish(self) -> list[Piece]:
        """End of stream: flush held-back text; later calls return nothing."""
        out: list[Piece] = []
        if not self._finished:
            self._finished = True
            self._step("", out, final=True)
        return out

    def _open(self, markers: ThinkingMarkers) -> None:
        """Enter a thought block opened by `markers`."""
        self._markers = markers
        self._opened = True
        self.unclosed = True
        self._phase = "label"
        self._pending = ""

    def _step(self, text: str, out: list[Piece], *, final: bool) -> None:
        """Run `text` through the phases until it is all used or held back."""
        if self._phase == "start":
            text = self._from_start(text, final=final)
        if self._phase == "label":
            text = self._from_label(text, final=final)
        if self._phase == "thinking":
            text = self._from_thinking(text, out, final=final)
        if self._phase == "after":
            text = text.lstrip()
            if text:
                self._phase = "answer"
        if self._phase == "answer":
            _add(out, "answer", text)

    def _from_start(self, text: str, *, final: bool) -> str:
        """Decide whether output begins with a thought; return the text after that decision."""
        buffer = (self._pending + text).lstrip()
        self._pending = ""
        if not buffer:
            return ""
        if not final and any(m.open.startswith(buffer) and m.open != buffer for m in self._choices):
            self._pending = buffer
            return ""
        matches = [m for m in self._choices if buffer.startswith(m.open)]
        if not matches:
            self._phase = "answer"
            return buffer
        # The longest opener wins, so an opener that extends another one is not cut short.
        chosen = max(matches, key=lambda m: len(m.open))
        self._open(chosen)
        return buffer[len(chosen.open) :]

    def _from_label(self, text: str, *, final: bool) -> str:
        """Drop the channel label right after the opener; return the thinking text after it."""
        assert self._markers is not None
        label = self._markers.label
        buffer = self._pending + text
        self._pending = ""
        if not final and len(buffer) < len(label) and label.startswith(buffer):
            self._pending = buffer
            return ""
        self._phase = "thinking"
        return buffer[len(label) :] if label and buffer.startswith(label) else buffer

    def _from_thinking(self, text: str, out: list[Piece], *, final: bool) -> str:
        """Emit thinking up to the closer; return the text after the closer."""
        assert self._markers is not None
        close = self._markers.close
        buffer = self._pending + text
        self._pending = ""
        if self._lead:
            buffer = buffer.lstrip()
            if not buffer:
                return ""
            self._lead = False
        at = buffer.find(close)
        if at >= 0:
            # Whitespace before the closer is not part of the thought.
            self._emit_thinking(buffer[:at], out)
            self._phase = "after"
            self._closed = True
            self.unclosed = False
            return buffer[at + len(close) :]
        held = 0 if final else _held_close_prefix(buffer, close)
        self._emit_thinking(buffer[: len(buffer) - held], out)
        self._pending = buffer[len(buffer) - held :]
        return ""

    def _emit_thinking(self, text: str, out: list[Piece]) -> None:
        """Emit thinking text, holding back its trailing whitespace until more thinking comes."""
        body = text.rstrip()
        if not body:
            self._spaces.append(text)
            return
        _add(out, "thinking", "".join(self._spaces) + body)
        self._spaces = [text[len(body) :]]


def split_thinking(
    text: str, markers: Sequence[ThinkingMarkers] = DEFAULT_MARKERS
) -> tuple[str, str, bool]:
    """(thinking, answer, complete) of a whole text, by the same rules as the parser."""
    parser = ThinkingParser(markers)
    pieces = parser.feed(text) + parser.finish()
    thinking = "".join(piece for kind, piece in pieces if kind == "thinking")
    answer = "".join(piece for kind, piece in pieces if kind == "answer")
    return thinking, answer, not parser.unclosed
