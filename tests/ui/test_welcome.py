"""First launch: the welcome wizard opens over the window, downloads from a local Hub, and the
chosen model loads; later launches go straight to the chat."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from gemma_desktop.core import catalog as catalog_module
from gemma_desktop.core import hardware as hardware_module
from gemma_desktop.core.catalog import ModelFile, load_catalog
from gemma_desktop.core.engine import Engine
from gemma_desktop.core.fit import GIB
from gemma_desktop.core.models import ModelRegistry
from gemma_desktop.core.paths import resolve_paths
from gemma_desktop.ui import model_library as library_module
from tests.hf_server import FILENAME, REPO, HFServer, hub_online
from tests.ui.test_hardware_view import FakeHardware

pytestmark = pytest.mark.model


@pytest.fixture
def hub(starter_model_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[HFServer]:
    """A local Hub serving the real starter GGUF as the file of the only catalog model."""
    data = starter_model_path.read_bytes()
    with HFServer(data) as server:
        hub_online(monkeypatch)
        monkeypatch.setenv("HF_ENDPOINT", server.base)
        edge = next(m for m in load_catalog() if m.id == "gemma-4-e2b")
        served = ModelFile("Q4_K_M", REPO, FILENAME, size=len(data))
        models = (dataclasses.replace(edge, files=(served,)),)
        monkeypatch.setattr(catalog_module, "load_catalog", lambda: models)
        # The library took its own reference to the function when it was first imported.
        monkeypatch.setattr(library_module, "load_catalog", lambda: models)
        machine = FakeHardware(available_ram=6 * GIB, total_ram=8 * GIB)
        monkeypatch.setattr(hardware_module, "probe", lambda _folder=None: machine)
        yield server


def _window(make_window: Any, basedir: Path) -> Any:
    registry = ModelRegistry(resolve_paths(basedir).ensure())
    return make_window(Engine(), registry, start=False)


def _prefs(basedir: Path) -> dict[str, Any]:
    return dict(json.loads((basedir / "ui-preferences.json").read_text("utf-8")))


def test_first_launch_downloads_the_recommended_model_and_chats(
    qtbot: Any, make_window: Any, basedir: Path, hub: HFServer
) -> None:
    window = _window(make_window, basedir)
    window.start()
    qtbot.waitUntil(lambda: window.welcome is not None and window.welcome.isVisible(),
                    timeout=10_000)
    wizard = window.welcome
    assert wizard.isModal() or wizard.windowModality() != Qt.WindowModality.NonModal
    qtbot.waitUntil(lambda: wizard.download_button.isChecked(), timeout=10_000)
    assert "Gemma 4 E2B" in wizard.download_button.title.text()
    qtbot.mouseClick(wizard.next_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: wizard.page_name() == "ready" or wizard.error_label.isVisible(),
                    timeout=30_000)
    assert not wizard.error_label.isVisible(), wizard.error_label.text()
    stored = basedir / "models" / FILENAME
    assert stored.read_bytes() == hub.data  # verified copy, no .part left
    assert not stored.with_name(FILENAME + ".part").exists()
    assert window.status.download_button.text() == f"Downloaded {FILENAME[:-5]}"
    qtbot.mouseClick(wizard.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.status.state_label.text() == "Ready", timeout=60_000)
    assert window.models.entry.path == stored.resolve()
    assert window.welcome is None
    assert _prefs(basedir)["setup_done"] is True
    assert [s.path for s in hub.gets()] == [f"/{REPO}/resolve/main/{FILENAME}"]


def test_a_later_launch_skips_the_wizard(
    qtbot: Any, make_window: Any, basedir: Path, hub: HFServer, starter_model_path: Path
) -> None:
    (basedir / "ui-preferences.json").write_text(json.dumps({"setup_done": True}), "utf-8")
    registry = ModelRegistry(resolve_paths(basedir).ensure())
    registry.add_local(starter_model_path)
    window = make_window(Engine(), registry, start=True)
    assert window.welcome is None
    assert hub.seen == []  # nothing asked of the network


def test_a_model_already_in_the_folder_counts_as_set_up(
    qtbot: Any, make_window: Any, basedir: Path, hub: HFServer, starter_model_path: Path
) -> None:
    models = resolve_paths(basedir).ensure().models
    (models / starter_model_path.name).write_bytes(starter_model_path.read_bytes())
    window = _window(make_window, basedir)
    window.start()
    qtbot.waitUntil(lambda: window.status.state_label.text() == "Ready", timeout=60_000)
    assert window.welcome is None
    assert _prefs(basedir)["setup_done"] is True


def test_quitting_mid_download_keeps_the_part_and_the_next_launch_resumes(
    qtbot: Any, make_window: Any, basedir: Path, hub: HFServer
) -> None:
    hub.behaviour.throttle = (64 << 10, 0.05)  # slow enough to quit halfway
    window = _window(make_window, basedir)
    window.start()
    qtbot.waitUntil(lambda: window.welcome is not None, timeout=10_000)
    wizard = window.welcome
    qtbot.waitUntil(lambda: wizard.download_button.isChecked(), timeout=10_000)
    qtbot.mouseClick(wizard.next_button, Qt.MouseButton.LeftButton)
    part = basedir / "models" / (FILENAME + ".part")
    qtbot.waitUntil(lambda: part.exists() and part.stat().st_size > (256 << 10), timeout=20_000)
    window.close()  # like quitting the app: the worker stops, the .part stays
    kept = part.stat().st_size
    assert 0 < kept < len(hub.data)
    assert not (basedir / "ui-preferences.json").exists() or not _prefs(basedir).get("setup_done")

    hub.behaviour.throttle = None
    again = _window(make_window, basedir)
    again.start()
    qtbot.waitUntil(lambda: again.welcome is not None, timeout=10_000)
    wizard = again.welcome
    qtbot.waitUntil(lambda: wizard.download_button.isChecked(), timeout=10_000)
    qtbot.mouseClick(wizard.next_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: wizard.page_name() == "ready", timeout=30_000)
    assert (basedir / "models" / FILENAME).read_bytes() == hub.data
    ranges = [s.headers.get("range") for s in hub.gets()]
    assert ranges[-1] is not None and ranges[-1].startswith("bytes=")
    assert int(ranges[-1].removeprefix("bytes=").rstrip("-")) >= kept - (1 << 20)


def test_closing_the_wizard_falls_back_to_the_starter(
    qtbot: Any, make_window: Any, basedir: Path, hub: HFServer
) -> None:
    window = _window(make_window, basedir)
    window.start()
    qtbot.waitUntil(lambda: window.welcome is not None, timeout=10_000)
    window.welcome.reject()
    qtbot.waitUntil(lambda: window.status.state_label.text() == "Ready", timeout=60_000)
    assert window.models.entry.source == "starter"
    assert _prefs(basedir)["setup_done"] is True


def test_the_model_menu_opens_the_library_and_a_download_there_loads_the_model(
    qtbot: Any, make_window: Any, basedir: Path, hub: HFServer, starter_model_path: Path
) -> None:
    (basedir / "ui-preferences.json").write_text(json.dumps({"setup_done": True}), "utf-8")
    registry = ModelRegistry(resolve_paths(basedir).ensure())
    registry.add_local(starter_model_path)
    window = make_window(Engine(), registry, start=True)
    picker = window.model_picker
    qtbot.waitUntil(lambda: picker.findText("Download or add models…") >= 0, timeout=10_000)
    picker.activated.emit(picker.findText("Download or add models…"))
    library = window.library
    assert library is not None and library.isVisible()
    card = library.cards["gemma-4-e2b"]
    qtbot.waitUntil(lambda: card.panel.download_button.isVisible(), timeout=10_000)
    card.panel.download_button.click()
    qtbot.waitUntil(lambda: card.flow.state in ("installed", "failed"), timeout=30_000)
    assert card.flow.state == "installed", card.panel.error.text()
    qtbot.waitUntil(lambda: window.models.entry is not None
                    and window.models.entry.path.name == FILENAME, timeout=30_000)
    qtbot.waitUntil(lambda: window.status.state_label.text() == "Ready", timeout=60_000)
    library.close()
    window.status.download_button.click()  # the note reopens the same dialog
    assert window.library is library and library.isVisible()
