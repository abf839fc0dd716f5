"""Plain data types shared by the engine, the history store, the CLI and the UI."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Role = Literal["system", "user", "assistant"]
# "repetition": stopped because the model kept repeating itself (a loop, not an answer).
FinishReason = Literal["stop", "length", "cancelled", "error", "repetition"]


@dataclass(frozen=True)
class ChatMessage:
    """One turn as the prompt renderer sees it (attachments already folded into content)."""

    role: Role
    content: str


@dataclass(frozen=True)
class SamplingParams:
    """Sampler settings; Gemma's recommended values are the defaults."""

    temperature: float = 1.0
    top_p: float = 0.95
    top_k: int = 64
    min_p: float = 0.0
    repeat_penalty: float = 1.0
    seed: int | None = None


@dataclass
class GenerationResult:
    """What one generated turn produced, with timing measured on the engine thread."""

    text: str
    finish_reason: FinishReason
    prompt_tokens: int
    completion_tokens: int
    reused_tokens: int = 0
    ttft_s: float = 0.0
    decode_tokens_per_s: float = 0.0
    prompt_eval_s: float = 0.0
    error: str = ""
    stats: dict[str, float] = field(default_factory=dict)
    token_ids: list[int] = field(default_factory=list)
    # The whole reply's tokens, a continued one's earlier part included (empty when that
    # part was given as text only, so its exact tokens are unknown).
    reply_token_ids: list[int] = field(default_factory=list)
    # For finish_reason "length": "max_tokens" (the limit asked for) or "context" (n_ctx full).
    length_limit: str = ""
    # The reasoning trace, kept apart from the answer in `text`.
    thinking: str = ""
    thinking_tokens: int = 0
    thinking_s: float = 0.0
    # False when a thought opened and never closed (the limit or the model cut it short).
    thinking_complete: bool = True
    # For finish_reason "repetition": a short quote of what kept repeating.
    repeated: str = ""

    @property
    def answered(self) -> bool:
        """True when any answer text was produced (thinking alone is not an answer)."""
        return bool(self.text.strip())


@dataclass(frozen=True)
class Continuation:
    """A reply to carry on from: its thought and answer so far go back in as the model's own.

    `close_thought` ends an unfinished thought first, so the model answers at once.
    `token_ids`, when known, are the exact tokens generated so far: the model then carries on
    from precisely where it stopped, and the engine's cache of them is reused.
    """

    thinking: str = ""
    answer: str = ""
    close_thought: bool = False
    thinking_tokens: int = 0
    completion_tokens: int = 0
    thinking_s: float = 0.0
    token_ids: tuple[int, ...] = ()
