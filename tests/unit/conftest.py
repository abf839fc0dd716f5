"""Fixtures shared by the download tests: local Hub servers serving the module's DATA."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.hf_server import HFServer, serving


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[HFServer]:
    """A fresh server per test serving the test module's DATA, threads joined afterwards."""
    with serving(request.module.DATA) as srv:
        yield srv


@pytest.fixture
def other_server(request: pytest.FixtureRequest) -> Iterator[HFServer]:
    """A second origin (another port), standing in for the Hub's CDN."""
    with HFServer(request.module.DATA) as srv:
        yield srv
