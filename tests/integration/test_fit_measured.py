"""The fit estimate against what llama.cpp allocates for the real starter at several contexts."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from gemma_desktop.core.catalog import find_model
from gemma_desktop.core.engine import Engine
from gemma_desktop.core.fit import MIB, compute_bytes, estimate, kv_bytes

pytestmark = pytest.mark.model


def _mib(pattern: str, text: str) -> float:
    return sum(float(v) for v in re.findall(pattern, text))


@pytest.mark.parametrize("n_ctx", [2048, 8192, 32768])
def test_starter_estimate_matches_llama_cpp(
    n_ctx: int, starter_model_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="llama.cpp")
    engine = Engine()
    try:
        engine.load(starter_model_path, n_ctx).result(timeout=300)
    finally:
        engine.shutdown()
    log = "\n".join(r.getMessage() for r in caplog.records if r.name == "llama.cpp")
    measured_kv = _mib(r"KV buffer size =\s+([\d.]+) MiB", log) * MIB
    measured_compute = _mib(r"compute buffer size =\s+([\d.]+) MiB", log.split("~llama")[0]) * MIB
    measured_weights = _mib(r"model buffer size =\s+([\d.]+) MiB", log) * MIB
    assert measured_kv and measured_compute and measured_weights, log[-2000:]
    model = find_model("gemma-3-270m-starter")
    fit = estimate(model, n_ctx=n_ctx)
    assert kv_bytes(model.arch, n_ctx) == pytest.approx(measured_kv, rel=0.02)
    assert compute_bytes(model.arch) == pytest.approx(measured_compute, rel=0.02)
    measured = measured_weights + measured_kv + measured_compute
    assert fit.total_bytes == pytest.approx(measured, rel=0.15)
    assert fit.weights_bytes == starter_model_path.stat().st_size
