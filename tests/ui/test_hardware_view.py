"""The hardware view: one fit row per Gemma 4 model, the pick highlighted, bars to scale."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from gemma_desktop.core.catalog import load_catalog
from gemma_desktop.core.fit import GIB, estimate, recommend
from gemma_desktop.ui.hardware_view import (
    NOTHING_FITS,
    FitBar,
    HardwareView,
    build_rows_data,
)

GEMMA4 = ["gemma-4-e2b", "gemma-4-e4b", "gemma-4-26b-a4b", "gemma-4-31b"]


@dataclass(frozen=True)
class FakeHardware:
    """The Hardware fields, with a chosen amount of free memory and no GPU."""

    available_ram: int
    total_ram: int = 64 * GIB
    os: str = "Linux"
    arch: str = "x86_64"
    cpu_name: str = "AMD Ryzen 7 7840U w/ Radeon 780M Graphics"
    physical_cores: int = 8
    logical_cores: int = 16
    cpu_features: tuple[str, ...] = ("avx", "avx2", "fma", "f16c")
    gpus: tuple[Any, ...] = ()
    gpu_offload: bool = False
    disk_free: int | None = 212 * GIB
    notes: tuple[str, ...] = field(default_factory=tuple)


def _show(qtbot: Any, gib: float, **extra: Any) -> tuple[HardwareView, Any, Any]:
    hardware = FakeHardware(available_ram=int(gib * GIB), **extra)
    models = load_catalog()
    pick = recommend(models, hardware)
    view = HardwareView()
    qtbot.addWidget(view)
    view.resize(760, 900)
    view.show_machine(hardware, models, pick)
    return view, hardware, pick


def _fit_height(view: HardwareView, width: int = 760) -> None:
    """Size the view to its content at `width` (wrapped text makes height depend on width)."""
    view.resize(width, max(view.heightForWidth(width), view.sizeHint().height()))


@pytest.mark.parametrize("gib", [6, 10, 24, 48])
def test_one_row_per_gemma4_model_and_the_pick_is_recommend(qtbot: Any, gib: int) -> None:
    view, _hardware, pick = _show(qtbot, gib)
    rows = view.rows()
    assert [row.model_id for row in rows] == GEMMA4
    chosen = [row for row in rows if row.recommended]
    assert pick is not None and len(chosen) == 1
    assert chosen[0].model_id == pick.model.id
    assert chosen[0].fits
    assert chosen[0].reason is not None and chosen[0].reason.text() == pick.reason
    assert chosen[0].badge.text() == "Recommended"
    assert view.nothing_fits is None


def test_each_row_says_what_its_estimate_says(qtbot: Any) -> None:
    view, hardware, pick = _show(qtbot, 24)
    assert pick is not None and pick.model.id == "gemma-4-26b-a4b"
    models = {m.id: m for m in load_catalog()}
    for row in view.rows():
        data = row.data
        fit = estimate(models[row.model_id], models[row.model_id].file(data.quant), data.n_ctx,
                       with_mmproj=True, hardware=hardware)
        assert row.fits == fit.fits
        assert ("does not fit" in row.summary_text) == (not fit.fits)
        assert row.numbers.text() == (
            f"{fit.total_bytes / GIB:.1f} / {fit.budget_bytes / GIB:.1f} GiB"
        )
    big = view.rows()[3]
    assert big.model_id == "gemma-4-31b" and big.data.estimate.mmproj_bytes > 0


def test_the_moe_pick_carries_the_all_experts_note(qtbot: Any) -> None:
    view, _hardware, _pick = _show(qtbot, 24)
    chosen = next(row for row in view.rows() if row.recommended)
    assert any("all 128" in note.text() for note in chosen.notes)
    assert not any(row.notes for row in view.rows() if not row.recommended)


def test_rows_data_use_the_pick_and_otherwise_the_first_measured_file() -> None:
    hardware = FakeHardware(available_ram=10 * GIB)
    models = load_catalog()
    pick = recommend(models, hardware)
    assert pick is not None
    data = {row.model_id: row for row in build_rows_data(hardware, models, pick)}
    assert data[pick.model.id].quant == pick.file.quant
    assert data[pick.model.id].n_ctx == pick.n_ctx
    assert data["gemma-4-31b"].quant == "Q4_K_M"  # the first listed file that is not a guess
    # Nothing fits the 31B here: it is shown at the preferred 32K context, over the limit.
    assert data["gemma-4-31b"].n_ctx == 32768 and not data["gemma-4-31b"].estimate.fits
    assert all(row.estimate.mmproj_bytes == models_file_mmproj(row) for row in data.values())


def models_file_mmproj(row: Any) -> int:
    """The projector size of the file a row shows."""
    model = next(m for m in load_catalog() if m.id == row.model_id)
    return model.file(row.quant).mmproj_size


def test_bar_segments_are_proportional_to_the_bytes(qtbot: Any) -> None:
    fit = estimate(load_catalog()[3], n_ctx=32768, with_mmproj=True,
                   hardware=FakeHardware(available_ram=48 * GIB))
    bar = FitBar()
    qtbot.addWidget(bar)
    bar.set_estimate(fit, scale_bytes=50 * GIB)
    width = 1000.0
    segments = bar.segments(width)
    assert [name for name, _x, _w in segments] == ["weights", "kv", "mmproj", "compute"]
    sizes = [fit.weights_bytes, fit.kv_bytes, fit.mmproj_bytes, fit.overhead_bytes]
    x = 0.0
    for (_name, left, w), size in zip(segments, sizes, strict=True):
        assert left == pytest.approx(x)
        assert w == pytest.approx(size / (50 * GIB) * width)
        x += w
    assert x == pytest.approx(fit.total_bytes / (50 * GIB) * width)
    assert bar.budget_x(width) == pytest.approx(fit.budget_bytes / (50 * GIB) * width)
    assert bar.overflow(width) is None


def test_an_overflowing_bar_marks_the_part_past_the_budget(qtbot: Any) -> None:
    fit = estimate(load_catalog()[3], n_ctx=32768, with_mmproj=True,
                   hardware=FakeHardware(available_ram=10 * GIB))
    assert not fit.fits
    bar = FitBar()
    qtbot.addWidget(bar)
    bar.set_estimate(fit)  # the total is the full width
    over = bar.overflow(400)
    assert over is not None
    start, length = over
    assert start == pytest.approx(fit.budget_bytes / fit.total_bytes * 400)
    assert start + length == pytest.approx(400)


def test_nothing_fits_says_the_starter_still_works(qtbot: Any) -> None:
    view, _hardware, pick = _show(qtbot, 3)
    assert pick is None
    assert len(view.rows()) == 4
    assert not any(row.recommended for row in view.rows())
    assert not any(row.fits for row in view.rows())
    assert view.nothing_fits is not None and view.nothing_fits.text() == NOTHING_FITS
    assert "starter model still works" in NOTHING_FITS


def test_the_header_names_the_machine(qtbot: Any) -> None:
    note = "Found an AMD GPU, but this build of llama.cpp is CPU-only, so it will not be used."
    view, _hardware, _pick = _show(qtbot, 24, notes=(note,))
    texts = [label.text() for label in view.findChildren(type(view.rows()[0].numbers))]
    assert any("AMD Ryzen 7" in t and "8 cores, 16 threads" in t for t in texts)
    assert any("23.0 GiB available" in t or "24.0 GiB available" in t for t in texts)
    assert "No GPU: models run on the CPU" in texts
    assert "212.0 GiB free" in texts
    assert note in texts


def test_showing_again_replaces_the_rows(qtbot: Any) -> None:
    view, _hardware, _pick = _show(qtbot, 6)
    models = load_catalog()
    bigger = FakeHardware(available_ram=48 * GIB)
    view.show_machine(bigger, models, recommend(models, bigger))
    chosen = [row.model_id for row in view.rows() if row.recommended]
    assert chosen == ["gemma-4-31b"]


@pytest.mark.parametrize("dark", [False, True])
def test_renders_in_light_and_dark(qtbot: Any, themed: Any, dark: bool) -> None:
    themed(dark)
    view, _hardware, _pick = _show(qtbot, 24)
    view.show()
    qtbot.waitExposed(view)
    _fit_height(view)
    image = view.grab()
    assert not image.isNull() and image.width() >= 700
    image.save(f"/tmp/hardware_view_{'dark' if dark else 'light'}.png")
    for row in view.rows():
        # Nothing in a row's first line may be squeezed below what its text needs.
        for label in (row.detail, row.badge, row.numbers):
            assert label.width() >= label.sizeHint().width()


def test_renders_with_the_real_probe(qtbot: Any, themed: Any) -> None:
    from gemma_desktop.core.hardware import probe

    themed(False)
    hardware = probe(check_offload=False)
    models = load_catalog()
    view = HardwareView()
    qtbot.addWidget(view)
    view.show_machine(hardware, models, recommend(models, hardware))
    view.show()
    _fit_height(view)
    qtbot.waitExposed(view)
    assert [row.model_id for row in view.rows()] == GEMMA4
    image = view.grab()
    assert not image.isNull()
    image.save("/tmp/hardware_view_probe.png")


def test_the_window_opens_the_hardware_dialog_from_the_model_picker(
    qtbot: Any, make_window: Any
) -> None:
    from tests.ui.conftest import FakeEngine, FakeRegistry

    window = make_window(FakeEngine(), FakeRegistry())
    picker = window.model_picker
    qtbot.waitUntil(lambda: picker.findText("Which model fits this computer?…") >= 0,
                    timeout=5000)
    index = picker.findText("Which model fits this computer?…")
    picker.activated.emit(index)
    dialog = window.hardware_dialog
    qtbot.waitUntil(lambda: len(dialog.view.rows()) == 4, timeout=10_000)
    assert dialog.isVisible() and not dialog.error.isVisible()
    assert picker.currentText() != "Which model fits this computer?…"  # the model stays shown
    dialog.close()
