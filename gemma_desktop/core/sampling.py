"""Sampling defaults: the GGUF's `general.sampling.*` keys, else Gemma's recommendation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from gemma_desktop.core.chat import SamplingParams

GEMMA_RECOMMENDED = SamplingParams(
    temperature=1.0, top_p=0.95, top_k=64, min_p=0.0, repeat_penalty=1.0
)

# GGUF key suffix (after "general.sampling.") -> SamplingParams field and type.
_KEYS: dict[str, tuple[str, type]] = {
    "temp": ("temperature", float),
    "temperature": ("temperature", float),
    "top_p": ("top_p", float),
    "top_k": ("top_k", int),
    "min_p": ("min_p", float),
    "penalty_repeat": ("repeat_penalty", float),
    "repeat_penalty": ("repeat_penalty", float),
}


def defaults_from_gguf(sampling: Mapping[str, Any]) -> SamplingParams:
    """Sampling parameters from a GGUF's sampling keys (prefix stripped), Gemma's where absent."""
    values: dict[str, Any] = {}
    for key, raw in sampling.items():
        if key not in _KEYS:
            continue
        field_name, kind = _KEYS[key]
        try:
            values[field_name] = kind(raw)
        except (TypeError, ValueError):
            continue
    return replace(GEMMA_RECOMMENDED, **values)
