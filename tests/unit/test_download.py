"""Resumable, verified downloads against a real local server that answers like the Hub."""

from __future__ import annotations

import errno
import hashlib
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from gemma_desktop.core import download as dl
from gemma_desktop.core.download import (
    DownloadCancelled,
    DownloadError,
    Progress,
    RemoteFile,
    download,
    resolve_url,
    safe_target,
)
from gemma_desktop.core.hub import download_from_hub, file_metadata
from tests.hf_server import COMMIT, FILENAME, REPO, HFServer, hub_online, make_data

DATA = make_data()
SHA = hashlib.sha256(DATA).hexdigest()
TOKEN = "hf_secretTOKEN1234567890"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _online(monkeypatch: pytest.MonkeyPatch) -> None:
    hub_online(monkeypatch)  # the server and other_server fixtures serve DATA (tests/unit/conftest)


def _free(n: int) -> Any:
    """A disk_usage stand-in reporting n bytes free."""
    return lambda _path: SimpleNamespace(free=n)


def fetch(server: HFServer, target: Path, **options: Any) -> Path:
    """download_from_hub of the test file from the server's endpoint."""
    return download_from_hub(REPO, FILENAME, target, endpoint=server.base, **options)


def _part(target: Path) -> Path:
    return target.with_name(target.name + ".part")


def _ranges(server: HFServer) -> list[str]:
    return [s.headers.get("range", "") for s in server.gets()]


def test_resolve_url_quotes_segments() -> None:
    url = resolve_url("https://hf.example/", "org/My Model", "sub dir/a#b.gguf", "v1.0")
    assert url == "https://hf.example/org/My%20Model/resolve/v1.0/sub%20dir/a%23b.gguf"


def test_default_endpoint_reads_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    assert dl.default_endpoint() == "https://huggingface.co"
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    assert dl.default_endpoint() == "http://127.0.0.1:9"


def test_metadata_then_download_of_the_remote_file(server: HFServer, tmp_path: Path) -> None:
    remote = file_metadata(REPO, FILENAME, token=None, endpoint=server.base)
    assert remote == RemoteFile(server.url(), len(DATA), SHA, COMMIT, server.url())
    target = tmp_path / "model.gguf"
    assert download(remote, target, disk_margin=0) == target
    assert target.read_bytes() == DATA


def test_plain_download_verifies_and_reports_progress(server: HFServer, tmp_path: Path) -> None:
    reports: list[Progress] = []
    target = tmp_path / "model.gguf"
    assert fetch(server, target, progress=reports.append, disk_margin=0) == target
    assert target.read_bytes() == DATA
    assert not _part(target).exists()
    assert reports and reports[-1].done == reports[-1].total == len(DATA)
    assert reports[-1].eta_s == 0.0


def test_dropped_connection_keeps_part_then_resumes_with_range(
    server: HFServer, tmp_path: Path
) -> None:
    server.behaviour.drop_after, server.behaviour.drops = 1 << 20, 1
    target = tmp_path / "model.gguf"
    with pytest.raises(DownloadError, match="interrupted at") as info:
        fetch(server, target, retries=0, disk_margin=0)
    assert "resume" in info.value.hint.lower()
    kept = _part(target).stat().st_size
    assert 0 < kept <= 1 << 20 and DATA.startswith(_part(target).read_bytes())
    assert not target.exists()

    fetch(server, target, retries=0, disk_margin=0)
    assert target.read_bytes() == DATA
    assert _ranges(server)[-1] == f"bytes={kept}-"


def test_dropped_connection_is_retried_within_one_call(server: HFServer, tmp_path: Path) -> None:
    server.behaviour.drop_after, server.behaviour.drops = 512 << 10, 2
    target = tmp_path / "model.gguf"
    fetch(server, target, retries=3, retry_delay=0.01, disk_margin=0)
    assert target.read_bytes() == DATA
    ranges = _ranges(server)
    assert len(ranges) == 3 and ranges[0] == ""
    assert all(r.startswith("bytes=") and int(r[6:-1]) > 0 for r in ranges[1:])


def test_killed_process_resumes_from_part(server: HFServer, tmp_path: Path) -> None:
    server.behaviour.throttle = (64 << 10, 0.05)
    target = tmp_path / "model.gguf"
    code = (
        "import sys; from pathlib import Path\n"
        "from gemma_desktop.core.hub import download_from_hub\n"
        f"download_from_hub({REPO!r}, {FILENAME!r}, Path(sys.argv[2]), endpoint=sys.argv[1],\n"
        "                  disk_margin=0, chunk_size=1 << 16)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, server.base, str(target)], cwd=ROOT)
    try:
        deadline = time.monotonic() + 15
        while not (_part(target).exists() and _part(target).stat().st_size > 0):
            assert proc.poll() is None and time.monotonic() < deadline, "no bytes arrived"
            time.sleep(0.02)
    finally:
        proc.kill()  # SIGKILL: no cleanup, like a crash or a closed laptop.
        proc.wait()
    server.behaviour.throttle = None
    kept = _part(target).stat().st_size
    assert 0 < kept < len(DATA)

    fetch(server, target, disk_margin=0)
    assert target.read_bytes() == DATA and not _part(target).exists()
    assert _ranges(server)[-1] == f"bytes={kept}-"


def test_corrupt_bytes_are_rejected_and_nothing_kept(server: HFServer, tmp_path: Path) -> None:
    server.behaviour.corrupt = True
    target = tmp_path / "model.gguf"
    with pytest.raises(DownloadError, match="checksum") as info:
        fetch(server, target, disk_margin=0)
    assert "again" in info.value.hint
    assert not target.exists() and not _part(target).exists()


def test_full_disk_is_refused_before_any_byte(server: HFServer, tmp_path: Path) -> None:
    target = tmp_path / "model.gguf"
    with pytest.raises(DownloadError) as info:
        fetch(server, target, disk_usage=_free(1_000_000), disk_margin=1_000_000)
    assert "needs 4.1 MB" in info.value.message and "only 1.0 MB is free" in info.value.message
    assert "free some space" in info.value.hint.lower()
    assert list(tmp_path.iterdir()) == [] and server.gets() == []


def test_disk_full_while_writing_keeps_part(
    server: HFServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = 0
    real_write = dl._write

    def write(file: Any, data: bytes) -> None:
        nonlocal written
        if written >= 1 << 20:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(file, data)
        written += len(data)

    monkeypatch.setattr(dl, "_write", write)
    target = tmp_path / "model.gguf"
    with pytest.raises(DownloadError, match="disk is full") as info:
        fetch(server, target, disk_margin=0)
    assert "kept" in info.value.hint
    assert _part(target).stat().st_size >= 1 << 20 and not target.exists()

    monkeypatch.setattr(dl, "_write", real_write)
    fetch(server, target, disk_margin=0)
    assert target.read_bytes() == DATA


def test_token_required_gated_and_never_leaked(server: HFServer, tmp_path: Path) -> None:
    server.behaviour.token = TOKEN
    target = tmp_path / "model.gguf"
    with pytest.raises(DownloadError, match="or it is private") as info:
        fetch(server, target)
    assert "token" in info.value.hint

    with pytest.raises(DownloadError, match="rejected your Hugging Face token") as refused:
        fetch(server, target, token="hf_wrong")
    assert "hf_wrong" not in str(refused.value) + repr(refused.value)

    server.behaviour.gated = True
    with pytest.raises(DownloadError, match="accept the licence") as gated:
        fetch(server, target)

    server.behaviour.drop_after, server.behaviour.drops = 100_000, 1
    with pytest.raises(DownloadError) as dropped:
        fetch(server, target, token=TOKEN, retries=0, disk_margin=0)
    fetch(server, target, token=TOKEN, disk_margin=0)
    assert target.read_bytes() == DATA
    for error in (info.value, refused.value, gated.value, dropped.value):
        assert TOKEN not in f"{error} {error!r} {error.hint} {error.__cause__!r}"
    assert server.gets()[-1].headers["authorization"] == f"Bearer {TOKEN}"


def test_token_refused_by_the_transfer_after_the_metadata(
    server: HFServer, tmp_path: Path
) -> None:
    server.behaviour.token = TOKEN
    remote = file_metadata(REPO, FILENAME, token=TOKEN, endpoint=server.base)
    server.behaviour.token = "hf_rotated0123456789"  # revoked between the HEAD and the GET
    with pytest.raises(DownloadError, match="refused access") as refused:
        download(remote, tmp_path / "model.gguf", token=TOKEN, disk_margin=0)
    assert TOKEN not in f"{refused.value} {refused.value!r} {refused.value.hint}"


def test_server_ignoring_range_starts_over(server: HFServer, tmp_path: Path) -> None:
    target = tmp_path / "model.gguf"
    _part(target).write_bytes(DATA[:300_000])
    server.behaviour.ignore_range = True
    fetch(server, target, disk_margin=0)
    assert target.read_bytes() == DATA
    assert _ranges(server) == ["bytes=300000-"]


def test_complete_part_is_verified_without_fetching(server: HFServer, tmp_path: Path) -> None:
    target = tmp_path / "model.gguf"
    _part(target).write_bytes(DATA)
    fetch(server, target, disk_margin=0)
    assert target.read_bytes() == DATA and server.gets() == []


def test_stale_part_from_another_file_is_discarded(server: HFServer, tmp_path: Path) -> None:
    target = tmp_path / "model.gguf"
    _part(target).write_bytes(b"x" * (len(DATA) + 5))
    fetch(server, target, disk_margin=0)
    assert target.read_bytes() == DATA


@pytest.mark.parametrize("name", ["../x.gguf", "/etc/passwd", "a\\..\\b", "", "..", "C:x", "a\0b"])
def test_safe_target_refuses_unsafe_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(DownloadError, match="not safe"):
        safe_target(tmp_path, name)


def test_safe_target_keeps_last_segment(tmp_path: Path) -> None:
    assert safe_target(tmp_path, "sub/dir/model.gguf") == tmp_path / "model.gguf"
    assert safe_target(tmp_path, "model.gguf") == tmp_path / "model.gguf"


def test_catalog_size_mismatch_fails_before_download(server: HFServer, tmp_path: Path) -> None:
    target = tmp_path / "model.gguf"
    with pytest.raises(DownloadError, match="catalog expects"):
        fetch(server, target, expected_size=len(DATA) + 1)
    with pytest.raises(DownloadError, match="different checksum"):
        fetch(server, target, expected_sha256="0" * 64)
    assert list(tmp_path.iterdir()) == [] and server.gets() == []


def test_catalog_sha_is_used_when_server_gives_none(server: HFServer, tmp_path: Path) -> None:
    remote = RemoteFile(server.url(), len(DATA), None, None)
    server.behaviour.corrupt = True
    with pytest.raises(DownloadError, match="checksum"):
        download(remote, tmp_path / "m.gguf", expected_sha256=SHA.upper(), disk_margin=0)


def test_redirect_to_other_origin_drops_token(
    server: HFServer, other_server: HFServer, tmp_path: Path
) -> None:
    server.behaviour.token = TOKEN
    server.behaviour.redirect_to = other_server.base
    remote = file_metadata(REPO, FILENAME, token=TOKEN, endpoint=server.base)
    assert remote.url.startswith(other_server.base + "/cdn/")
    assert (remote.size, remote.sha256, remote.commit) == (len(DATA), SHA, COMMIT)

    target = tmp_path / "model.gguf"
    download(remote, target, token=TOKEN, disk_margin=0)
    assert target.read_bytes() == DATA
    assert all(s.headers.get("authorization") == f"Bearer {TOKEN}" for s in server.seen)
    assert other_server.seen and all("authorization" not in s.headers for s in other_server.seen)


def test_cancel_keeps_part_and_a_later_call_completes(server: HFServer, tmp_path: Path) -> None:
    server.behaviour.throttle = (64 << 10, 0.02)
    cancel = threading.Event()
    target = tmp_path / "model.gguf"

    def on_progress(p: Progress) -> None:
        if p.done > 0:
            cancel.set()

    with pytest.raises(DownloadCancelled):
        fetch(
            server,
            target,
            cancel=cancel,
            progress=on_progress,
            chunk_size=1 << 16,
            disk_margin=0,
        )
    kept = _part(target).stat().st_size
    assert 0 < kept < len(DATA) and not target.exists()

    server.behaviour.throttle = None
    fetch(server, target, disk_margin=0)
    assert target.read_bytes() == DATA
    assert _ranges(server)[-1] == f"bytes={kept}-"
