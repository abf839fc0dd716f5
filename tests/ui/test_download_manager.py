"""DownloadManager against a real local server answering like the Hugging Face resolve endpoint."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from gemma_desktop.ui.download_manager import DownloadManager, download_key
from tests.hf_server import FILENAME, REPO, HFServer, hub_online, make_data


@pytest.fixture(autouse=True)
def _online(monkeypatch: pytest.MonkeyPatch) -> None:
    hub_online(monkeypatch)  # the downloads ask the local server through huggingface_hub


KEY = download_key(REPO, FILENAME)


class Recorder:
    """Collects a manager's signals, in the order they arrived, with their thread."""

    def __init__(self, manager: DownloadManager) -> None:
        self.events: list[tuple[str, Any]] = []
        self.threads: set[threading.Thread] = set()
        manager.progressed.connect(lambda key, p: self._add("progress", p))
        manager.finished.connect(lambda key, path: self._add("finished", path))
        manager.failed.connect(lambda key, message: self._add("failed", message))
        manager.paused.connect(lambda key: self._add("paused", key))

    def _add(self, kind: str, value: Any) -> None:
        self.threads.add(threading.current_thread())
        self.events.append((kind, value))

    def of(self, kind: str) -> list[Any]:
        return [value for k, value in self.events if k == kind]


def _manager(qtbot: Any, tmp_path: Path, server: HFServer) -> tuple[DownloadManager, Recorder]:
    manager = DownloadManager(tmp_path / "models", endpoint=server.base)
    return manager, Recorder(manager)


def test_download_reports_progress_then_the_verified_file(qtbot: Any, tmp_path: Path) -> None:
    data = make_data(3 << 20)
    with HFServer(data) as server:
        server.behaviour.throttle = (256 << 10, 0.02)
        manager, seen = _manager(qtbot, tmp_path, server)
        manager.start(KEY, REPO, FILENAME, expected_size=len(data),
                      expected_sha256=server.sha256)
        assert manager.active() == KEY
        qtbot.waitUntil(lambda: bool(seen.of("finished")), timeout=20_000)
        manager.shutdown()
    path = seen.of("finished")[0]
    assert path == tmp_path / "models" / FILENAME
    assert path.read_bytes() == data
    done = [p.done for p in seen.of("progress")]
    assert len(done) >= 2 and done == sorted(done) and done[-1] == len(data)
    # Everything arrives on the GUI thread, whatever thread downloaded.
    assert seen.threads == {threading.main_thread()}
    assert manager.active() is None


def test_pause_keeps_the_part_and_resume_continues_with_a_range(
    qtbot: Any, tmp_path: Path
) -> None:
    data = make_data(4 << 20)
    with HFServer(data) as server:
        server.behaviour.throttle = (64 << 10, 0.02)
        manager, seen = _manager(qtbot, tmp_path, server)
        manager.start(KEY, REPO, FILENAME, expected_size=len(data))
        qtbot.waitUntil(lambda: any(p.done >= 512 << 10 for p in seen.of("progress")),
                        timeout=20_000)
        manager.pause(KEY)
        assert manager.active() is None
        qtbot.waitUntil(lambda: bool(seen.of("paused")), timeout=10_000)
        part = tmp_path / "models" / (FILENAME + ".part")
        kept = part.stat().st_size
        assert 0 < kept < len(data)
        assert not (tmp_path / "models" / FILENAME).exists()

        server.behaviour.throttle = (512 << 10, 0.01)
        manager.resume(KEY)
        qtbot.waitUntil(lambda: bool(seen.of("finished")), timeout=20_000)
        manager.shutdown()
        ranges = [g.headers.get("range") for g in server.gets()]
    assert seen.of("paused") == [KEY]
    assert ranges[-1] == f"bytes={kept}-"
    assert (tmp_path / "models" / FILENAME).read_bytes() == data
    assert not part.exists()
    assert not seen.of("failed")


def test_a_missing_file_fails_with_a_clear_message(qtbot: Any, tmp_path: Path) -> None:
    with HFServer(make_data(1 << 16)) as server:
        manager, seen = _manager(qtbot, tmp_path, server)
        manager.start("x", REPO, "no-such-file.gguf")
        qtbot.waitUntil(lambda: bool(seen.of("failed")), timeout=10_000)
        manager.shutdown()
    message = seen.of("failed")[0]
    assert "not found" in message and "file name" in message, message
    assert not seen.of("finished")


def test_a_wrong_size_fails_and_nothing_is_kept(qtbot: Any, tmp_path: Path) -> None:
    data = make_data(1 << 16)
    with HFServer(data) as server:
        manager, seen = _manager(qtbot, tmp_path, server)
        manager.start(KEY, REPO, FILENAME, expected_size=len(data) + 1)
        qtbot.waitUntil(lambda: bool(seen.of("failed")), timeout=10_000)
        manager.shutdown()
    assert seen.of("failed")[0]
    assert not (tmp_path / "models" / FILENAME).exists()


def test_an_unsafe_file_name_fails_instead_of_writing_outside(
    qtbot: Any, tmp_path: Path
) -> None:
    with HFServer(make_data(1 << 16)) as server:
        manager, seen = _manager(qtbot, tmp_path, server)
        manager.start("bad", REPO, "../evil.gguf")
        qtbot.waitUntil(lambda: bool(seen.of("failed")), timeout=10_000)
        manager.shutdown()
    assert "not safe" in seen.of("failed")[0]
    assert not server.gets()


def test_shutdown_mid_download_stops_the_worker(qtbot: Any, tmp_path: Path) -> None:
    data = make_data(4 << 20)
    with HFServer(data) as server:
        server.behaviour.throttle = (64 << 10, 0.02)
        manager, seen = _manager(qtbot, tmp_path, server)
        manager.start(KEY, REPO, FILENAME)
        qtbot.waitUntil(lambda: bool(seen.of("progress")), timeout=20_000)
        manager.shutdown()
        assert not [t for t in threading.enumerate() if t.name == "gd-download"]
    assert (tmp_path / "models" / (FILENAME + ".part")).exists()


def test_the_endpoint_is_read_at_start_time(
    qtbot: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    data = make_data(1 << 16)
    with HFServer(data) as server:
        manager = DownloadManager(tmp_path / "models")
        seen = Recorder(manager)
        monkeypatch.setenv("HF_ENDPOINT", server.base)
        manager.start(KEY, REPO, FILENAME)
        qtbot.waitUntil(lambda: bool(seen.of("finished")), timeout=10_000)
        manager.shutdown()
    assert seen.of("finished")[0].read_bytes() == data
