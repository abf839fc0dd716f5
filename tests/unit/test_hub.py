"""File metadata through huggingface_hub against a real local server that answers like the Hub."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gemma_desktop.core.download import DownloadError, RemoteFile
from gemma_desktop.core.hub import download_from_hub, file_metadata
from tests.hf_server import (
    COMMIT,
    FILENAME,
    REPO,
    HFServer,
    hub_online,
    make_data,
    online_env,
)

DATA = make_data(1 << 20)
TOKEN = "hf_secretTOKEN1234567890"
STRAY = "hf_StrayFromTheShell0123456789"
ROOT = Path(__file__).resolve().parents[2]
RESOLVE = f"/{REPO}/resolve/main/{FILENAME}"


@pytest.fixture(autouse=True)
def _online(monkeypatch: pytest.MonkeyPatch) -> None:
    hub_online(monkeypatch)  # the server and other_server fixtures serve DATA (tests/unit/conftest)


def _meta(server: HFServer, repo: str = REPO, filename: str = FILENAME,
          token: str | None = None, revision: str = "main") -> RemoteFile:
    return file_metadata(repo, filename, token=token, endpoint=server.base, revision=revision)


def test_lfs_file_gives_size_sha256_commit_from_one_head(server: HFServer) -> None:
    remote = _meta(server)
    assert remote == RemoteFile(server.url(), len(DATA), server.sha256, COMMIT, server.url())
    assert [(s.method, s.path) for s in server.seen] == [("HEAD", RESOLVE)]


def test_file_kept_in_git_has_no_sha256(server: HFServer) -> None:
    server.behaviour.lfs = False
    remote = _meta(server)
    assert (remote.size, remote.sha256, remote.commit) == (len(DATA), None, COMMIT)


def test_a_revision_is_asked_for_by_name(server: HFServer) -> None:
    remote = _meta(server, revision=COMMIT)
    assert remote.requested_url == server.url(revision=COMMIT) == remote.url


def test_redirect_target_is_reported_and_gets_no_token(
    server: HFServer, other_server: HFServer, tmp_path: Path
) -> None:
    server.behaviour.token = TOKEN
    server.behaviour.redirect_to = other_server.base
    remote = _meta(server, token=TOKEN)
    assert remote.url == f"{other_server.base}/cdn/{server.sha256}?sig=abc"
    assert remote.requested_url == server.url()
    assert (remote.size, remote.sha256, remote.commit) == (len(DATA), server.sha256, COMMIT)
    # The metadata sits on the redirect itself: the CDN is not asked during the HEAD.
    assert other_server.seen == []
    assert server.heads()[0].headers["authorization"] == f"Bearer {TOKEN}"

    target = download_from_hub(REPO, FILENAME, tmp_path / "m.gguf", endpoint=server.base,
                               token=TOKEN, disk_margin=0)
    assert target.read_bytes() == DATA
    assert all(s.headers.get("authorization") == f"Bearer {TOKEN}" for s in server.seen)
    assert other_server.gets() and all("authorization" not in s.headers for s in other_server.seen)


def test_a_stray_hf_token_in_the_environment_is_not_sent(
    server: HFServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HF_TOKEN", STRAY)
    monkeypatch.setenv("HUGGING_FACE_HUB_TOKEN", STRAY)
    download_from_hub(REPO, FILENAME, tmp_path / "m.gguf", endpoint=server.base, disk_margin=0)
    assert server.heads() and server.gets()
    assert all("authorization" not in s.headers for s in server.seen)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize(
    ("setup", "options", "message", "hint"),
    [
        ("", {"repo": "google/no-such-model"}, "google/no-such-model was not found on 127.0.0.1",
         ["spelling", "token"]),
        ("private", {}, "or it is private", ["spelling", "private model add a Hugging Face token"]),
        ("private", {"token": "hf_wrongWRONG0000"}, "rejected your Hugging Face token",
         ["new token with read access"]),
        ("gated", {}, "is gated: accept the licence", ["{base}/" + REPO, "token"]),
        ("", {"filename": "nope.gguf"}, f"The file nope.gguf was not found in {REPO}",
         ["file name", "Files page", "{base}/" + REPO + "/tree/main"]),
        ("", {"revision": "v9"}, f"The revision 'v9' of {REPO} was not found",
         ["branch, tag or commit"]),
        ("500", {}, "has a problem (HTTP 500)", ["later"]),
        ("429", {}, "limiting requests", ["Wait"]),
        ("418", {}, "answered HTTP 418", ["HF_ENDPOINT"]),
    ],
)
def test_errors_say_what_happened_and_what_to_do(
    server: HFServer,
    caplog: pytest.LogCaptureFixture,
    setup: str,
    options: dict[str, Any],
    message: str,
    hint: list[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    if setup in ("private", "gated"):
        server.behaviour.token = TOKEN
        server.behaviour.gated = setup == "gated"
    elif setup:
        server.behaviour.fail_with = int(setup)
    with pytest.raises(DownloadError) as info:
        _meta(server, **options)
    error = info.value
    assert message in error.message
    for words in hint:
        assert words.format(base=server.base) in error.hint, error.hint
    _assert_clean(error, caplog, "hf_wrongWRONG0000")


def _assert_clean(error: DownloadError, caplog: pytest.LogCaptureFixture, *secrets: str) -> None:
    """No token, no traceback text, no chained huggingface_hub exception."""
    text = f"{error} {error!r} {error.hint}"
    for secret in (TOKEN, *secrets):
        assert secret not in text and secret not in caplog.text
    assert "Traceback" not in text and "huggingface_hub" not in text
    assert error.__cause__ is None and error.__suppress_context__


def test_offline_mode_set_by_the_user_is_respected_and_explained(
    server: HFServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(DownloadError, match="HF_HUB_OFFLINE is set") as info:
        _meta(server, token=TOKEN)
    assert "Unset HF_HUB_OFFLINE" in info.value.hint
    assert server.seen == []
    _assert_clean(info.value, caplog)


def test_unreachable_endpoint_says_check_the_connection(caplog: pytest.LogCaptureFixture) -> None:
    port = _closed_port()
    with pytest.raises(DownloadError) as info:
        file_metadata(REPO, FILENAME, token=TOKEN, endpoint=f"http://127.0.0.1:{port}",
                      timeout=5)
    assert info.value.message == f"Could not reach 127.0.0.1:{port}."
    assert "internet connection" in info.value.hint and "HF_ENDPOINT" in info.value.hint
    _assert_clean(info.value, caplog)


def test_a_silent_endpoint_times_out_with_a_clear_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)  # accepts the connection in the kernel, never answers
        port = listener.getsockname()[1]
        with pytest.raises(DownloadError) as info:
            file_metadata(REPO, FILENAME, token=None, endpoint=f"http://127.0.0.1:{port}",
                          timeout=0.5)
    assert info.value.message == f"127.0.0.1:{port} did not answer within 0.5 s."
    assert "internet connection" in info.value.hint
    _assert_clean(info.value, caplog)


def test_an_endpoint_that_is_no_web_address_is_refused() -> None:
    with pytest.raises(DownloadError, match="not a web address"):
        file_metadata(REPO, FILENAME, token=None, endpoint="ftp://127.0.0.1:9")


# A fresh interpreter whose environment enables telemetry and carries a stray token; it
# reports what it imported and where huggingface_hub keeps its files.
FRESH = f"""
import json, sys
from pathlib import Path
import gemma_desktop.core.hub as hub
import gemma_desktop.cli
imported_early = "huggingface_hub" in sys.modules
mode, endpoint, home = sys.argv[1:4]
if mode == "app":
    remote = hub.file_metadata({REPO!r}, {FILENAME!r}, token=None, endpoint=endpoint,
                               hf_home=Path(home))
    size = remote.size
else:  # huggingface_hub as it comes, for comparison
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    size = get_hf_file_metadata(hf_hub_url({REPO!r}, {FILENAME!r}, endpoint=endpoint)).size
from huggingface_hub import constants
print(json.dumps({{"early": imported_early, "size": size, "hf_home": constants.HF_HOME}}))
"""


def _fresh(server: HFServer, tmp_path: Path, mode: str) -> dict[str, object]:
    env = online_env(dict(os.environ))
    for name in ("HF_HUB_DISABLE_TELEMETRY", "DO_NOT_TRACK", "DISABLE_TELEMETRY",
                 "HF_HUB_DISABLE_IMPLICIT_TOKEN", "HF_HOME", "HF_TOKEN_PATH", "XDG_CACHE_HOME"):
        env.pop(name, None)
    # Any telemetry would go to HF_ENDPOINT: this server, which records it. A fresh HOME has
    # no cached copy of what telemetry fetches, so nothing is skipped.
    env.update(HF_ENDPOINT=server.base, HF_TOKEN=STRAY, HOME=str(tmp_path / mode))
    done = subprocess.run(
        [sys.executable, "-c", FRESH, mode, server.base, str(tmp_path / mode / "hf")],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_a_fresh_process_asks_for_the_file_and_nothing_else(
    server: HFServer, tmp_path: Path
) -> None:
    result = _fresh(server, tmp_path, "app")
    assert result["early"] is False  # importing the app does not import huggingface_hub
    assert result["size"] == len(DATA)
    assert result["hf_home"] == str(tmp_path / "app" / "hf")
    assert [(s.method, s.path) for s in server.seen] == [("HEAD", RESOLVE)]
    assert all("authorization" not in s.headers for s in server.seen)


def test_plain_huggingface_hub_would_phone_home_which_the_audit_sees(
    server: HFServer, tmp_path: Path
) -> None:
    """The control for the test above: its server does see telemetry when there is some."""
    pytest.importorskip("huggingface_hub.utils._detect_agent")
    _fresh(server, tmp_path, "plain")
    paths = {s.path for s in server.seen}
    assert any(p.startswith("/api/") for p in paths), paths
    assert any(s.headers.get("authorization") == f"Bearer {STRAY}" for s in server.seen)
