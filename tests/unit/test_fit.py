"""Memory fit against the published Gemma 4 numbers, and recommendations per machine."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from gemma_desktop.core.catalog import find_model, load_catalog
from gemma_desktop.core.errors import UserError
from gemma_desktop.core.fit import GIB, estimate, kv_bytes, largest_context, recommend

# gemma4.md's KV table (f16, swa_full off unless marked): GiB at 32K, 128K, 256K.
KV_TABLE = [
    ("gemma-4-e2b", 32768, False, 0.20),
    ("gemma-4-e2b", 131072, False, 0.76),
    ("gemma-4-e4b", 32768, False, 0.54),
    ("gemma-4-e4b", 131072, False, 2.0),
    ("gemma-4-26b-a4b", 32768, False, 0.92),
    ("gemma-4-26b-a4b", 131072, False, 2.8),
    ("gemma-4-26b-a4b", 262144, False, 5.3),
    ("gemma-4-26b-a4b", 262144, True, 55.0),
    ("gemma-4-31b", 32768, False, 3.7),
    ("gemma-4-31b", 131072, False, 11.2),
    ("gemma-4-31b", 262144, False, 21.2),
    ("gemma-4-31b", 262144, True, 220.0),
]


@pytest.mark.parametrize(("model_id", "n_ctx", "swa_full", "gib"), KV_TABLE)
def test_kv_cache_matches_the_published_table(
    model_id: str, n_ctx: int, swa_full: bool, gib: float
) -> None:
    arch = find_model(model_id).arch
    assert kv_bytes(arch, n_ctx, swa_full=swa_full) / GIB == pytest.approx(gib, rel=0.03)


def test_quantised_cache_is_smaller_in_ggml_block_sizes() -> None:
    arch = find_model("31b").arch
    f16 = kv_bytes(arch, 262144)
    assert kv_bytes(arch, 262144, "q8_0") == pytest.approx(f16 * 34 / 64, rel=1e-6)
    assert kv_bytes(arch, 262144, "q4_0") == pytest.approx(f16 * 18 / 64, rel=1e-6)


def test_catalog_has_every_variant_with_files_and_capabilities() -> None:
    models = {m.id: m for m in load_catalog()}
    assert {"gemma-4-e2b", "gemma-4-e4b", "gemma-4-26b-a4b", "gemma-4-31b"} <= set(models)
    for model_id in ("gemma-4-e2b", "gemma-4-e4b", "gemma-4-26b-a4b", "gemma-4-31b"):
        model = models[model_id]
        assert "thinking" in model.capabilities and "image" in model.capabilities
        assert any("Q4" in f.quant for f in model.files)
        assert all(f.size > 1e9 and f.file.endswith(".gguf") and f.repo for f in model.files)
    assert models["gemma-4-e4b"].file("Q4_K_M").mmproj_file
    assert "audio" in models["gemma-4-e2b"].capabilities
    assert "audio" not in models["gemma-4-31b"].capabilities
    with pytest.raises(UserError, match="no Q3 file"):
        models["gemma-4-31b"].file("Q3")
    with pytest.raises(UserError, match="No model called"):
        find_model("gemma-9")


def test_catalog_file_names_are_unique() -> None:
    """Downloads are saved by file name: one name must always mean one repo's file."""
    repos: dict[str, set[str]] = {}
    for model in load_catalog():
        for f in model.files:
            for name in (f.file, f.mmproj_file):
                if name:
                    repos.setdefault(name, set()).add(f.repo)
    assert {name: r for name, r in repos.items() if len(r) > 1} == {}
    assert all(any(q in {f.quant for f in m.files} for q in ("Q8_0",))
               for m in load_catalog() if m.rung != "starter")


@dataclass(frozen=True)
class FakeGPU:
    name: str
    total_bytes: int
    free_bytes: int | None
    unified: bool = False
    vendor: str = "nvidia"


@dataclass(frozen=True)
class FakeHardware:
    available_ram: int
    gpus: tuple[FakeGPU, ...] = ()
    gpu_offload: bool = False


def test_estimate_adds_every_part_and_says_when_it_fits() -> None:
    e4b = find_model("e4b")
    fit = estimate(e4b, n_ctx=32768, with_mmproj=True, hardware=FakeHardware(16 * GIB))
    assert fit.total_bytes == (fit.weights_bytes + fit.kv_bytes + fit.mmproj_bytes
                               + fit.overhead_bytes)
    assert fit.weights_bytes == e4b.files[0].size and fit.mmproj_bytes == 559874528
    assert fit.fits and fit.n_gpu_layers == 0
    small = estimate(e4b, n_ctx=32768, hardware=FakeHardware(4 * GIB))
    assert small.fits is False


def test_the_moe_says_all_experts_must_be_resident() -> None:
    fit = estimate(find_model("26b-a4b"), n_ctx=32768)
    assert any("all 128 must be in memory" in note for note in fit.notes)
    assert fit.total_bytes > 16 * GIB  # the "VRAM trap": not a 4B model's memory


def test_gpu_layers_follow_free_video_memory() -> None:
    model = find_model("31b")
    big = FakeHardware(64 * GIB, (FakeGPU("RTX", 48 * GIB, 47 * GIB),), gpu_offload=True)
    assert estimate(model, n_ctx=8192, hardware=big).n_gpu_layers == 60
    half = FakeHardware(64 * GIB, (FakeGPU("RTX", 12 * GIB, 12 * GIB),), gpu_offload=True)
    layers = estimate(model, n_ctx=8192, hardware=half).n_gpu_layers
    assert 10 < layers < 40
    cpu_build = FakeHardware(64 * GIB, (FakeGPU("RTX", 48 * GIB, 47 * GIB),))
    assert estimate(model, n_ctx=8192, hardware=cpu_build).n_gpu_layers == 0


@pytest.mark.parametrize(
    ("ram_gib", "expected"),
    [(6, "gemma-4-e2b"), (10, "gemma-4-e4b"), (24, "gemma-4-26b-a4b"), (48, "gemma-4-31b")],
)
def test_recommendation_per_machine(ram_gib: int, expected: str) -> None:
    choice = recommend(load_catalog(), FakeHardware(ram_gib * GIB))
    assert choice is not None and choice.model.id == expected
    assert choice.estimate.fits and choice.n_ctx >= 32768
    assert "Q2" not in choice.file.quant
    assert choice.model.name in choice.reason and "GiB" in choice.reason


def test_nothing_fits_on_a_tiny_machine() -> None:
    assert recommend(load_catalog(), FakeHardware(3 * GIB)) is None
    assert largest_context(find_model("e2b"), None, FakeHardware(3 * GIB)) is None
