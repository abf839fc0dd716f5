"""Open GGUF… and the context-size setting with the real Engine and the starter model."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from tests.ui.conftest import write_prefs

pytestmark = pytest.mark.model

CUT_SIZE = 50_000_000


def _open_gguf(qtbot: Any, window: Any, monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    """Choose 'Open GGUF…' in the picker with the file dialog answering `path`."""
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        lambda *a, **k: (str(path), "GGUF models (*.gguf)"))
    picker = window.model_picker
    picker.activated.emit(picker.findData("__open_gguf__"))


def _warnings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning",
                        lambda _parent, _title, text, *a: shown.append(text)
                        or QMessageBox.StandardButton.Ok)
    return shown


@pytest.mark.parametrize("kind", ["text", "cut"])
def test_open_gguf_rejects_bad_files(qtbot: Any, make_window: Any, real_parts: Any,
                                     basedir: Path, tmp_path: Path, starter_model_path: Path,
                                     monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    write_prefs(basedir, n_ctx=1024, max_tokens=16)
    window = make_window(*real_parts())
    loaded = window.models.entry.id
    if kind == "text":
        bad = tmp_path / "notes.gguf"
        bad.write_text("These are my notes, not a model.\n", "utf-8")
        expected = "not a GGUF"
    else:
        bad = tmp_path / "cut.gguf"
        with open(starter_model_path, "rb") as src, open(bad, "wb") as dst:
            dst.write(src.read(CUT_SIZE))
        expected = "incomplete"
    shown = _warnings(monkeypatch)
    _open_gguf(qtbot, window, monkeypatch, bad)
    qtbot.waitUntil(lambda: bool(shown), timeout=30_000)
    assert expected in shown[0], shown
    assert bad.name in shown[0]
    # The app keeps running with the model it had.
    assert window.isVisible()
    assert window.model_picker.current_id() == loaded
    assert window.model_picker.currentData() == loaded
    assert window.engine.model is not None and window.engine.model.path.name != bad.name
    assert window.status.state_label.text() == "Ready"
    assert all(e.path.name != bad.name for e in window.models._registry.list())


def test_open_gguf_adds_a_model_from_a_folder_with_umlauts(
        qtbot: Any, make_window: Any, real_parts: Any, basedir: Path, tmp_path: Path,
        starter_model_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_prefs(basedir, n_ctx=1024, max_tokens=16)
    window = make_window(*real_parts())
    starter_id = window.models.entry.id
    folder = tmp_path / "Bericht März"
    folder.mkdir()
    copy = folder / "gemma kopie.gguf"
    try:
        os.link(starter_model_path, copy)
    except OSError:  # another file system: copy instead
        shutil.copy(starter_model_path, copy)
    shown = _warnings(monkeypatch)
    with qtbot.waitSignal(window.models.model_loaded, timeout=60_000) as loaded:
        _open_gguf(qtbot, window, monkeypatch, copy)
    entry, info = loaded.args
    assert shown == []
    assert entry.path == copy.resolve() and info.path == copy.resolve()
    picker = window.model_picker
    qtbot.waitUntil(lambda: picker.findData(entry.id) >= 0, timeout=10_000)
    assert picker.currentData() == entry.id
    assert picker.findData(starter_id) >= 0
    assert window.status.state_label.text() == "Ready"
    # Both stay loadable from the picker.
    with qtbot.waitSignal(window.models.model_loaded, timeout=60_000) as back:
        picker.activated.emit(picker.findData(starter_id))
    assert back.args[0].id == starter_id
    with qtbot.waitSignal(window.models.model_loaded, timeout=60_000) as again:
        picker.activated.emit(picker.findData(entry.id))
    assert again.args[1].path == copy.resolve()


def test_context_size_setting_reloads_the_model(qtbot: Any, make_window: Any, real_parts: Any,
                                                basedir: Path) -> None:
    write_prefs(basedir, n_ctx=2048, max_tokens=16)
    window = make_window(*real_parts())
    qtbot.waitUntil(lambda: window.status.n_ctx == 2048, timeout=10_000)
    assert window.status.context_label.text().endswith("/ 2,048 tokens")

    def fill_in() -> None:
        dialog = QApplication.activeModalWidget()
        assert dialog is not None and dialog.windowTitle() == "Settings"
        dialog.n_ctx.setValue(3072)
        dialog.accept()

    QTimer.singleShot(50, fill_in)
    with qtbot.waitSignal(window.models.model_loaded, timeout=60_000) as loaded:
        window.settings_button.click()
    assert loaded.args[1].n_ctx == 3072
    assert window.engine.model.n_ctx == 3072
    qtbot.waitUntil(lambda: window.status.n_ctx == 3072, timeout=10_000)
    assert window.status.context_label.text().endswith("/ 3,072 tokens")
    assert window.preferences.n_ctx == 3072
    assert '"n_ctx": 3072' in (basedir / "ui-preferences.json").read_text("utf-8")
