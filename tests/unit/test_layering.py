"""Layering rules: core never imports Qt, and the CLI and core start without llama.cpp."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import gemma_desktop.core


def _core_modules() -> list[str]:
    return [
        info.name
        for info in pkgutil.walk_packages(gemma_desktop.core.__path__, "gemma_desktop.core.")
    ]


def test_core_has_modules_to_check() -> None:
    names = _core_modules()
    assert "gemma_desktop.core.engine" in names and "gemma_desktop.core.history" in names


def test_core_never_imports_qt() -> None:
    code = (
        "import importlib, sys\n"
        f"for name in {_core_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.startswith(('PySide6', 'shiboken6', 'qasync')))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"core pulled in Qt: {out.stdout}"


def test_engine_import_does_not_load_llama_cpp() -> None:
    """Cold start: llama_cpp (hundreds of ms) is imported only when a model is loaded."""
    code = (
        "import sys, gemma_desktop.core.engine, gemma_desktop.cli\n"
        "print('llama_cpp' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
