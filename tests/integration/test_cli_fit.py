"""doctor and fit on this machine through the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.test_cli import run


def test_doctor_reports_the_machine_and_a_recommendation(tmp_path: Path) -> None:
    done = run(tmp_path, "doctor", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    hardware = data["hardware"]
    assert hardware["total_ram"] > 1 << 30 and hardware["physical_cores"] >= 1
    assert hardware["disk_free"] > 0
    if hardware["available_ram"] > 8 << 30:
        assert data["recommendation"]["model"].startswith("gemma-4-")
        assert data["recommendation"]["estimate"]["fits"] is True
    text = run(tmp_path, "doctor")
    assert text.returncode == 0 and "Memory" in text.stdout and "Fit" in text.stdout


def test_fit_gives_every_part_and_a_verdict(tmp_path: Path) -> None:
    done = run(tmp_path, "fit", "31b", "--ctx", "262144", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    for key in ("weights_bytes", "kv_bytes", "mmproj_bytes", "overhead_bytes", "total_bytes",
                "fits", "n_gpu_layers"):
        assert key in data
    assert data["kv_bytes"] / (1 << 30) == pytest.approx(21.2, rel=0.03)
    assert data["total_bytes"] == (data["weights_bytes"] + data["kv_bytes"]
                                   + data["mmproj_bytes"] + data["overhead_bytes"])
    moe = run(tmp_path, "fit", "26b-a4b", "--ctx", "32768")
    assert "all 128 must be in memory" in moe.stdout
    wrong = run(tmp_path, "fit", "gemma-9")
    assert wrong.returncode == 2 and "Known models" in wrong.stderr
    assert "Traceback" not in wrong.stderr


def test_models_lists_the_catalog_with_a_fit_verdict(tmp_path: Path) -> None:
    done = run(tmp_path, "models", "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    catalog = [r for r in rows if r["source"] == "catalog"]
    assert {r["id"].split(":")[0] for r in catalog} == {
        "gemma-4-e2b", "gemma-4-e4b", "gemma-4-26b-a4b", "gemma-4-31b"}
    for row in catalog:
        assert row["installed"] is False and isinstance(row["fit"]["fits"], bool)
        assert row["fit"]["total_bytes"] > row["size_bytes"]
    text = run(tmp_path, "models")
    assert "Gemma 4 catalog" in text.stdout and "gemma-4-31b:Q4_K_M" in text.stdout
