"""Plain data types shared by the engine, the history store, the CLI and the UI."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Role = Literal["system", "user", "assistant"]
FinishReason = Literal["stop", "length", "cancelled", "error"]


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
    # For finish_reason "length": "max_tokens" (the limit asked for) or "context" (n_ctx full).
    length_limit: str = ""
