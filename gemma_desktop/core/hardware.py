"""Best-effort survey of the CPU, memory, GPUs and disk that local models will run on."""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_MIB = 1024 * 1024
# The order features are reported in, whatever order the OS lists them.
_FEATURES = ("avx", "avx2", "avx512f", "fma", "f16c", "neon", "sve")
# Names the OS uses for a feature, mapped to ours (asimd is what arm64 Linux calls NEON;
# macOS on Intel calls AVX "AVX1.0").
_FEATURE_ALIASES = {name: name for name in _FEATURES} | {"asimd": "neon", "avx1.0": "avx"}
_PCI_VENDORS = {"0x10de": "nvidia", "0x1002": "amd", "0x8086": "intel"}
_VENDOR_LABELS = {"nvidia": "NVIDIA", "apple": "Apple", "amd": "AMD", "intel": "Intel"}
_NVIDIA_SMI_TIMEOUT = 5.0
_SYSCTL_TIMEOUT = 2.0


@dataclass(frozen=True)
class GPU:
    """One graphics processor and its memory."""

    name: str
    vendor: str  # "nvidia", "apple", "amd", "intel", "unknown"
    total_bytes: int  # for Apple unified memory, the system RAM; 0 when unknown
    free_bytes: int | None
    unified: bool = False  # shares system RAM (Apple silicon)


@dataclass(frozen=True)
class Hardware:
    """What this machine offers for running a model, plus plain-words remarks about it."""

    os: str
    arch: str
    cpu_name: str
    physical_cores: int
    logical_cores: int
    cpu_features: tuple[str, ...]
    total_ram: int
    available_ram: int
    gpus: tuple[GPU, ...]
    gpu_offload: bool
    disk_free: int | None
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (lists instead of tuples)."""
        return {
            "os": self.os,
            "arch": self.arch,
            "cpu_name": self.cpu_name,
            "physical_cores": self.physical_cores,
            "logical_cores": self.logical_cores,
            "cpu_features": list(self.cpu_features),
            "total_ram": self.total_ram,
            "available_ram": self.available_ram,
            "gpus": [
                {
                    "name": gpu.name,
                    "vendor": gpu.vendor,
                    "total_bytes": gpu.total_bytes,
                    "free_bytes": gpu.free_bytes,
                    "unified": gpu.unified,
                }
                for gpu in self.gpus
            ],
            "gpu_offload": self.gpu_offload,
            "disk_free": self.disk_free,
            "notes": list(self.notes),
        }


def normalize_features(words: list[str]) -> tuple[str, ...]:
    """Map OS feature names to ours and return the known ones in a fixed order."""
    found = {_FEATURE_ALIASES[w.lower()] for w in words if w.lower() in _FEATURE_ALIASES}
    return tuple(name for name in _FEATURES if name in found)


def parse_cpuinfo(text: str) -> tuple[str, tuple[str, ...]]:
    """Return the CPU name ("" if absent) and known features from Linux /proc/cpuinfo text."""
    names: dict[str, str] = {}
    words: list[str] = []
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.strip().lower()
        value = value.strip()
        # x86 says "model name" (its "model" is a number); some ARM boards only give "Model"
        # or "Hardware"; on ARM "processor" is just the core index.
        if key in ("model name", "model", "hardware") and value and not value.isdigit():
            names.setdefault(key, value)
        elif key in ("flags", "features") and not words:
            words = value.split()
    name = next((names[k] for k in ("model name", "model", "hardware") if k in names), "")
    return name, normalize_features(words)


def parse_nvidia_smi(text: str) -> list[GPU]:
    """Parse `nvidia-smi --query-gpu=name,memory.total,memory.free` CSV (MiB, no header)."""
    gpus: list[GPU] = []
    for line in text.splitlines():
        parts = line.rsplit(",", 2)
        if len(parts) != 3:
            continue
        name, total, free = (part.strip() for part in parts)
        try:
            total_mib = int(float(total))
        except ValueError:
            continue
        if not name or total_mib <= 0:
            continue
        try:
            free_bytes: int | None = int(float(free)) * _MIB
        except ValueError:
            # Some boards report "[N/A]" for free memory; the total is still useful.
            free_bytes = None
        gpus.append(
            GPU(name=name, vendor="nvidia", total_bytes=total_mib * _MIB, free_bytes=free_bytes)
        )
    return gpus


def scan_drm(root: Path = Path("/sys/class/drm")) -> list[GPU]:
    """List PCI GPUs under a Linux /sys/class/drm tree, with VRAM where the driver reports it."""
    gpus: list[GPU] = []
    seen: set[Path] = set()
    try:
        cards = sorted(p for p in root.iterdir() if re.fullmatch(r"card\d+", p.name))
    except OSError:
        return gpus
    for card in cards:
        device = card / "device"
        try:
            real = device.resolve()
            vendor_id = (device / "vendor").read_text().strip().lower()
        except OSError:
            continue
        vendor = _PCI_VENDORS.get(vendor_id)
        if vendor is None or real in seen:
            continue
        seen.add(real)
        device_id = _read_text(device / "device") or "?"
        total = _read_int(device / "mem_info_vram_total") or 0
        used = _read_int(device / "mem_info_vram_used")
        free = total - used if total and used is not None else None
        gpus.append(
            GPU(
                name=f"{_VENDOR_LABELS[vendor]} GPU {device_id}",
                vendor=vendor,
                total_bytes=total,
                free_bytes=free,
            )
        )
    return gpus


def make_notes(gpus: tuple[GPU, ...], gpu_offload: bool, offload_checked: bool) -> list[str]:
    """Explain in plain words whether and how the GPUs found will be used."""
    if not gpus:
        return ["No GPU found: models run on the CPU."]
    notes: list[str] = []
    vendors = list(dict.fromkeys(gpu.vendor for gpu in gpus))
    for vendor in vendors:
        label = _VENDOR_LABELS.get(vendor)
        found = f"An {label} GPU was found" if label else "A GPU was found"
        if not offload_checked:
            notes.append(f"{found}; whether this build of llama.cpp can use it was not checked.")
        elif not gpu_offload:
            notes.append(
                f"{found}, but this build of llama.cpp is CPU-only, so it will not be used."
            )
    if any(gpu.unified for gpu in gpus):
        notes.append(
            "Apple silicon shares system memory with the GPU; by default llama.cpp can use "
            "roughly 2/3 to 3/4 of it for the model."
        )
    if any(gpu.total_bytes == 0 for gpu in gpus):
        notes.append("The memory size of some GPUs could not be read.")
    return notes


def gpu_offload_supported() -> bool:
    """Whether the installed llama.cpp build can offload layers to a GPU; False if unavailable."""
    try:
        # Imported here: llama_cpp takes hundreds of ms to load and core must start without it.
        import llama_cpp

        return bool(llama_cpp.llama_supports_gpu_offload())
    except Exception:
        return False


def probe(
    models_dir: Path | None = None,
    *,
    check_offload: bool = True,
    nvidia_smi: str = "nvidia-smi",
) -> Hardware:
    """Survey this machine; every step tolerates failure and falls back to defaults."""
    system = platform.system()
    arch = platform.machine()
    notes: list[str] = []

    cpu_name, features = _cpu_info(system)
    physical, logical = _cores()
    total_ram, available_ram = _memory()

    gpus: list[GPU] = []
    nvidia, smi_note = _probe_nvidia(nvidia_smi)
    gpus += nvidia
    if smi_note:
        notes.append(smi_note)
    if system == "Darwin":
        arm64 = arch == "arm64" or _run(["sysctl", "-n", "hw.optional.arm64"]) == "1"
        if arm64:
            gpus.append(
                GPU(
                    name=cpu_name or "Apple silicon GPU",
                    vendor="apple",
                    total_bytes=total_ram,
                    free_bytes=None,
                    unified=True,
                )
            )
            if arch != "arm64":
                notes.append(
                    "Python is running under Rosetta (x86_64 on Apple silicon), which is slower; "
                    "a native arm64 Python is recommended."
                )
    elif system == "Linux":
        # nvidia-smi already gave better data for NVIDIA cards; keep only the others.
        gpus += [g for g in scan_drm() if not (nvidia and g.vendor == "nvidia")]

    offload = gpu_offload_supported() if check_offload else False
    notes += make_notes(tuple(gpus), offload, check_offload)

    return Hardware(
        os=system,
        arch=arch,
        cpu_name=cpu_name or platform.processor() or arch or "unknown",
        physical_cores=physical,
        logical_cores=logical,
        cpu_features=features,
        total_ram=total_ram,
        available_ram=available_ram,
        gpus=tuple(gpus),
        gpu_offload=offload,
        disk_free=_disk_free(models_dir),
        notes=tuple(notes),
    )


def _run(args: list[str], timeout: float = _SYSCTL_TIMEOUT) -> str | None:
    """Run a command and return its stripped stdout, or None on any failure."""
    try:
        done = subprocess.run(
            args,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    return done.stdout.strip()


def _read_text(path: Path) -> str | None:
    """A small text file's stripped contents, or None if it cannot be read."""
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _read_int(path: Path) -> int | None:
    """A file holding one integer, or None if absent or malformed."""
    text = _read_text(path)
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _cpu_info(system: str) -> tuple[str, tuple[str, ...]]:
    """CPU name and features by whatever means this OS offers."""
    if system == "Linux":
        text = _read_text(Path("/proc/cpuinfo"))
        return parse_cpuinfo(text) if text else ("", ())
    if system == "Darwin":
        name = _run(["sysctl", "-n", "machdep.cpu.brand_string"]) or ""
        if _run(["sysctl", "-n", "hw.optional.arm64"]) == "1":
            # Every Apple silicon core has NEON; SVE is not offered.
            return name, ("neon",)
        words = _run(["sysctl", "-n", "machdep.cpu.features", "machdep.cpu.leaf7_features"])
        return name, normalize_features(words.split()) if words else ()
    if system == "Windows":
        return _windows_cpu_name(), ()
    return platform.processor(), ()


def _windows_cpu_name() -> str:
    """The marketing name from the registry; platform.processor() is only a family code."""
    if sys.platform == "win32":
        try:
            import winreg

            key = r"HARDWARE\DESCRIPTION\System\CentralProcessor\0"
            with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, key) as handle:
                return str(winreg.QueryValueEx(handle, "ProcessorNameString")[0]).strip()
        except OSError:
            pass
    return platform.processor()


def _cores() -> tuple[int, int]:
    """Physical and logical core counts, each at least 1."""
    try:
        import psutil

        logical = psutil.cpu_count(logical=True) or os.cpu_count() or 1
        physical = psutil.cpu_count(logical=False) or logical
    except Exception:
        logical = os.cpu_count() or 1
        physical = logical
    return int(physical), int(max(logical, physical))


def _memory() -> tuple[int, int]:
    """Total and available RAM in bytes (0, 0 if unknown)."""
    try:
        import psutil

        memory = psutil.virtual_memory()
        return int(memory.total), int(min(memory.available, memory.total))
    except Exception:
        return 0, 0


def _probe_nvidia(nvidia_smi: str) -> tuple[list[GPU], str | None]:
    """NVIDIA GPUs via nvidia-smi, and a note if the tool exists but gave no answer."""
    path = shutil.which(nvidia_smi)
    if path is None:
        return [], None
    args = [path, "--query-gpu=name,memory.total,memory.free", "--format=csv,noheader,nounits"]
    output = _run(args, timeout=_NVIDIA_SMI_TIMEOUT)
    gpus = parse_nvidia_smi(output) if output else []
    if not gpus:
        return [], "nvidia-smi is installed but reported no usable GPU (driver problem?)."
    return gpus, None


def _disk_free(models_dir: Path | None) -> int | None:
    """Free bytes on the disk holding models_dir, or its nearest existing parent."""
    if models_dir is None:
        return None
    try:
        path = Path(models_dir).absolute()
        while not path.exists() and path != path.parent:
            path = path.parent
        return int(shutil.disk_usage(path).free)
    except OSError:
        return None
