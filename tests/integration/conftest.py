"""Integration fixtures: a data folder with the starter already installed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, starter_model_path: Path) -> Path:
    """A data folder whose starter is already in models/ (a copy, so assembly is not timed)."""
    folder = tmp_path_factory.mktemp("cli") / "Daten März"
    (folder / "models").mkdir(parents=True)
    os.link(starter_model_path, folder / "models" / starter_model_path.name)
    return folder
