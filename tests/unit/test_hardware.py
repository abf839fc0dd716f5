"""Hardware probe: real values on this machine, fake nvidia-smi scripts, pure parsers."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gemma_desktop.core import hardware
from gemma_desktop.core.hardware import (
    GPU,
    make_notes,
    parse_cpuinfo,
    parse_nvidia_smi,
    probe,
    scan_drm,
)

GIB = 1024**3
MIB = 1024**2
MISSING_SMI = "no-such-nvidia-smi-here"

X86_CPUINFO = """\
processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Core(TM) i9-13900K
flags\t\t: fpu vme sse sse2 avx avx2 fma f16c avx512f avx512bw bmi2
bugs\t\t: spectre_v1

processor\t: 1
model name\t: Intel(R) Core(TM) i9-13900K
flags\t\t: fpu vme sse sse2 avx avx2 fma f16c avx512f avx512bw bmi2
"""

ARM_CPUINFO = """\
processor\t: 0
BogoMIPS\t: 2100.00
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp sve
CPU implementer\t: 0x41

processor\t: 1
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp sve
"""


def fake_tool(folder: Path, body: str) -> str:
    """An executable shell script standing in for nvidia-smi; returns its path."""
    script = folder / "nvidia-smi"
    script.write_text("#!/bin/sh\n" + body + "\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return str(script)


def test_real_probe_is_sane(tmp_path: Path) -> None:
    hw = probe(tmp_path, check_offload=False)
    assert hw.os == "Linux"
    assert hw.arch
    assert hw.cpu_name
    assert hw.total_ram > GIB
    assert 0 < hw.available_ram <= hw.total_ram
    assert hw.physical_cores >= 1
    assert hw.logical_cores >= hw.physical_cores
    assert hw.disk_free is not None and hw.disk_free > 0
    assert set(hw.cpu_features) <= {"avx", "avx2", "avx512f", "fma", "f16c", "neon", "sve"}
    if shutil.which("nvidia-smi") is None:
        assert hw.gpus == ()
        assert any("No GPU found" in note for note in hw.notes)
    assert json.loads(json.dumps(hw.to_dict())) == hw.to_dict()


def test_to_dict_has_every_field_and_gpu_details(tmp_path: Path) -> None:
    smi = fake_tool(tmp_path, "echo 'NVIDIA A100, 40960, 1024'")
    data = probe(check_offload=False, nvidia_smi=smi).to_dict()
    assert set(data) == {
        "os",
        "arch",
        "cpu_name",
        "physical_cores",
        "logical_cores",
        "cpu_features",
        "total_ram",
        "available_ram",
        "gpus",
        "gpu_offload",
        "disk_free",
        "notes",
    }
    assert data["gpus"] == [
        {
            "name": "NVIDIA A100",
            "vendor": "nvidia",
            "total_bytes": 40960 * MIB,
            "free_bytes": 1024 * MIB,
            "unified": False,
        }
    ]
    assert data["disk_free"] is None
    assert isinstance(data["notes"], list) and isinstance(data["cpu_features"], list)


def test_disk_free_uses_nearest_existing_parent(tmp_path: Path) -> None:
    hw = probe(tmp_path / "not" / "yet" / "made", check_offload=False, nvidia_smi=MISSING_SMI)
    assert hw.disk_free == pytest.approx(shutil.disk_usage(tmp_path).free, rel=0.05)


def test_fake_nvidia_smi_reports_two_gpus(tmp_path: Path) -> None:
    smi = fake_tool(
        tmp_path,
        "echo 'NVIDIA GeForce RTX 4090, 24564, 23000'\n"
        "echo 'NVIDIA GeForce RTX 3060, 12288, 11000'",
    )
    hw = probe(check_offload=False, nvidia_smi=smi)
    assert hw.gpus == (
        GPU("NVIDIA GeForce RTX 4090", "nvidia", 24564 * MIB, 23000 * MIB),
        GPU("NVIDIA GeForce RTX 3060", "nvidia", 12288 * MIB, 11000 * MIB),
    )
    assert not any("No GPU found" in note for note in hw.notes)


@pytest.mark.parametrize(
    "body", ["echo 'this is not, csv at all'; echo garbage", "echo 'RTX, 1, 2'; exit 1"]
)
def test_broken_nvidia_smi_gives_no_gpu(tmp_path: Path, body: str) -> None:
    hw = probe(check_offload=False, nvidia_smi=fake_tool(tmp_path, body))
    assert hw.gpus == ()
    assert any("nvidia-smi" in note for note in hw.notes)
    assert any("No GPU found" in note for note in hw.notes)


def test_hanging_nvidia_smi_times_out(tmp_path: Path) -> None:
    smi = fake_tool(tmp_path, "sleep 10\necho 'NVIDIA GeForce RTX 4090, 24564, 23000'")
    start = time.monotonic()
    hw = probe(check_offload=False, nvidia_smi=smi)
    assert time.monotonic() - start < 6.5
    assert hw.gpus == ()


def test_missing_nvidia_smi_is_silent() -> None:
    hw = probe(check_offload=False, nvidia_smi=MISSING_SMI)
    assert not any("nvidia-smi" in note for note in hw.notes)


def test_parse_nvidia_smi_skips_malformed_lines() -> None:
    text = "Tesla T4, 15360, 15000\n\nbroken line\nBad, abc, 12\nZero, 0, 0\nGH200, 97871, [N/A]\n"
    assert parse_nvidia_smi(text) == [
        GPU("Tesla T4", "nvidia", 15360 * MIB, 15000 * MIB),
        GPU("GH200", "nvidia", 97871 * MIB, None),
    ]


def test_parse_cpuinfo_x86() -> None:
    name, features = parse_cpuinfo(X86_CPUINFO)
    assert name == "Intel(R) Core(TM) i9-13900K"
    assert features == ("avx", "avx2", "avx512f", "fma", "f16c")


def test_parse_cpuinfo_arm() -> None:
    name, features = parse_cpuinfo(ARM_CPUINFO)
    # "processor : 0" is a core index, not a name.
    assert name == ""
    assert features == ("neon", "sve")


def test_parse_cpuinfo_empty() -> None:
    assert parse_cpuinfo("") == ("", ())


def test_probe_without_offload_check_does_not_import_llama_cpp() -> None:
    code = (
        "import sys; from gemma_desktop.core.hardware import probe; "
        "hw = probe(check_offload=False); print('llama_cpp' in sys.modules, hw.gpu_offload)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


def test_offload_is_false_on_this_cpu_only_build() -> None:
    pytest.importorskip("llama_cpp")
    assert probe(check_offload=True, nvidia_smi=MISSING_SMI).gpu_offload is False


def test_nvidia_gpu_with_cpu_only_build_is_explained(tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp")
    smi = fake_tool(tmp_path, "echo 'NVIDIA GeForce RTX 4090, 24564, 23000'")
    hw = probe(check_offload=True, nvidia_smi=smi)
    assert hw.gpu_offload is False
    assert any("NVIDIA" in note and "CPU-only" in note for note in hw.notes)


def test_make_notes() -> None:
    nvidia = (GPU("RTX", "nvidia", 8 * GIB, None),)
    assert make_notes((), gpu_offload=False, offload_checked=True) == [
        "No GPU found: models run on the CPU."
    ]
    assert make_notes(nvidia, gpu_offload=True, offload_checked=True) == []
    (cpu_only,) = make_notes(nvidia, gpu_offload=False, offload_checked=True)
    assert "NVIDIA" in cpu_only and "CPU-only" in cpu_only
    (unchecked,) = make_notes(nvidia, gpu_offload=False, offload_checked=False)
    assert "not checked" in unchecked
    unknown_size = make_notes((GPU("Intel GPU", "intel", 0, None),), True, True)
    assert any("could not be read" in note for note in unknown_size)


def test_apple_silicon_is_one_unified_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_run(args: list[str], timeout: float = 2.0) -> str | None:
        answers = {"machdep.cpu.brand_string": "Apple M2 Pro", "hw.optional.arm64": "1"}
        return answers.get(args[-1])

    monkeypatch.setattr(hardware.platform, "system", lambda: "Darwin")
    monkeypatch.setattr(hardware.platform, "machine", lambda: "arm64")
    monkeypatch.setattr(hardware, "_run", fake_run)
    hw = probe(check_offload=False, nvidia_smi=MISSING_SMI)
    assert hw.cpu_name == "Apple M2 Pro"
    assert hw.cpu_features == ("neon",)
    assert hw.gpus == (GPU("Apple M2 Pro", "apple", hw.total_ram, None, unified=True),)
    assert any("2/3" in note and "3/4" in note for note in hw.notes)


def test_scan_drm_finds_amd_and_intel(tmp_path: Path) -> None:
    def card(name: str, files: dict[str, str]) -> None:
        device = tmp_path / name / "device"
        device.mkdir(parents=True)
        for file, text in files.items():
            (device / file).write_text(text + "\n")

    card(
        "card0",
        {
            "vendor": "0x1002",
            "device": "0x744c",
            "mem_info_vram_total": str(24 * GIB),
            "mem_info_vram_used": str(GIB),
        },
    )
    card("card0-DP-1", {"vendor": "0x1002"})  # a connector, not a card
    card("card1", {"vendor": "0x8086", "device": "0x4680"})
    card("card2", {"vendor": "0x1af4"})  # virtio: not a GPU we can use
    card("card3", {})
    assert scan_drm(tmp_path) == [
        GPU("AMD GPU 0x744c", "amd", 24 * GIB, 23 * GIB),
        GPU("Intel GPU 0x4680", "intel", 0, None),
    ]
    assert scan_drm(tmp_path / "missing") == []


def test_x86_model_number_is_not_taken_for_the_name() -> None:
    text = (
        "processor\t: 0\ncpu family\t: 25\nmodel\t\t: 17\nmodel name\t: AMD EPYC\n"
        "flags\t: avx2\n"
    )
    name, features = parse_cpuinfo(text)
    assert name == "AMD EPYC" and features == ("avx2",)
