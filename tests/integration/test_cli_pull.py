"""pull from a local Hub-like server: a real GGUF arrives verified, resumes after a kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.hf_server import FILENAME, REPO, HFServer, online_env

pytestmark = pytest.mark.model

STRAY_TOKEN = "hf_StrayFromTheShell0123456789"


def _command(basedir: Path, endpoint: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "gemma_desktop", *args, "--basedir", str(basedir)]


def _env(endpoint: str) -> dict[str, str]:
    env = online_env({k: v for k, v in os.environ.items() if k != "GEMMA_DESKTOP_HOME"})
    env["HF_ENDPOINT"] = endpoint
    # A token meant for some other tool: pull must never send it anywhere.
    env["HF_TOKEN"] = STRAY_TOKEN
    # Never touch a real keyring on a developer's desktop: this backend has none.
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    return env


def test_pull_resumes_after_a_kill_and_registers_the_model(
    starter_model_path: Path, tmp_path: Path
) -> None:
    basedir = tmp_path / "Daten März"
    args = ("pull", "--repo", REPO, "--file", FILENAME)
    with HFServer(starter_model_path.read_bytes()) as server:
        server.behaviour.throttle = (1 << 20, 0.05)  # about 20 MB/s: time to kill it mid-way
        part = basedir / "models" / (FILENAME + ".part")
        first = subprocess.Popen(_command(basedir, server.base, *args), env=_env(server.base),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while not (part.exists() and part.stat().st_size > 8 << 20):
            assert time.monotonic() < deadline and first.poll() is None
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        kept = part.stat().st_size
        assert 0 < kept < len(server.data)

        server.behaviour.throttle = None
        done = subprocess.run(_command(basedir, server.base, *args), env=_env(server.base),
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert "Ready:" in done.stdout
        ranges = [g.headers.get("range") for g in server.gets()]
        assert any(r and r.startswith("bytes=") and int(r[6:].rstrip("-")) > 0 for r in ranges)
        assert all("authorization" not in s.headers for s in server.seen)  # no stray token
    target = basedir / "models" / FILENAME
    assert target.stat().st_size == starter_model_path.stat().st_size and not part.exists()
    listed = subprocess.run(_command(basedir, "", "models", "--json"), env=_env("http://x"),
                            capture_output=True, text=True, timeout=120)
    rows = json.loads(listed.stdout)
    assert any(r.get("path") == str(target) and r["available"] for r in rows)


def test_pull_of_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with HFServer(b"x" * 1024) as server:
        done = subprocess.run(
            _command(tmp_path, server.base, "pull", "--repo", REPO, "--file", "nope.gguf"),
            env=_env(server.base), capture_output=True, text=True, timeout=120,
        )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "not found" in done.stderr.lower()
    assert not list((tmp_path / "models").glob("*"))


def test_gated_repo_needs_a_token_which_is_never_written_down(tmp_path: Path) -> None:
    token = "hf_SeCrEt0123456789abcdef"
    basedir = tmp_path / "home"
    with HFServer(b"\1" * (2 << 20)) as server:
        server.behaviour.token = token
        server.behaviour.gated = True
        args = _command(basedir, server.base, "pull", "--repo", REPO, "--file", FILENAME)
        without = subprocess.run(args, env=_env(server.base), capture_output=True, text=True,
                                 timeout=120)
        assert without.returncode == 2 and "Traceback" not in without.stderr
        assert "licence" in without.stderr and "token" in without.stderr
        with_token = subprocess.run([*args, "--token-stdin"], env=_env(server.base),
                                    input=token + "\n", capture_output=True, text=True,
                                    timeout=120)
        assert any(g.headers.get("authorization") == f"Bearer {token}" for g in server.gets())
    # The bytes arrive verified (they are no GGUF, so registering then refuses them).
    assert (basedir / "models" / FILENAME).stat().st_size == 2 << 20
    assert "token" in with_token.stderr.lower() and token not in with_token.stderr
    assert token not in with_token.stdout
    for path in basedir.rglob("*"):
        if path.is_file():
            assert token.encode() not in path.read_bytes(), f"token written to {path}"


def test_pull_with_a_vision_projector_pairs_it_with_the_model(
    starter_model_path: Path, tmp_path: Path
) -> None:
    from tests.unit.test_gguf_file import write_gguf

    basedir = tmp_path / "data"
    projector = write_gguf(tmp_path / "mmproj-test-F16.gguf", arch="clip").read_bytes()
    files = {"mmproj-test-F16.gguf": projector}
    args = ("pull", "--repo", REPO, "--file", FILENAME, "--mmproj", "mmproj-test-F16.gguf")
    with HFServer(starter_model_path.read_bytes(), files=files) as server:
        done = subprocess.run(_command(basedir, server.base, *args), env=_env(server.base),
                              capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "with its vision projector mmproj-test-F16.gguf" in done.stdout
    assert (basedir / "models" / "mmproj-test-F16.gguf").read_bytes() == projector
    listed = subprocess.run(_command(basedir, "", "models", "--json"), env=_env(""),
                            capture_output=True, text=True, timeout=120)
    rows = json.loads(listed.stdout)
    installed = [r for r in rows if r.get("path")]
    assert [Path(r["path"]).name for r in installed] == [FILENAME]  # the projector is no model


def test_pull_refuses_mmproj_with_a_catalog_model(tmp_path: Path) -> None:
    done = subprocess.run(_command(tmp_path, "", "pull", "gemma-4-e4b", "--mmproj", "x.gguf"),
                          env=_env("http://127.0.0.1:9"), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2
    assert "--mmproj goes with --repo" in done.stderr and "Traceback" not in done.stderr
