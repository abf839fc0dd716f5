"""Where the app connects: nowhere while it starts and answers, only the endpoint while pulling."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hf_server import FILENAME, REPO, HFServer, online_env

pytestmark = pytest.mark.model

# Runs the command line with an audit hook that records every socket connection and every
# module named like a Hugging Face client that gets imported.
AUDITED = """
import json, sys
seen = {"connect": [], "imports": []}
def hook(event, args):
    if event == "socket.connect":
        address = args[1]
        seen["connect"].append(list(address) if isinstance(address, tuple) else str(address))
    elif event == "import" and str(args[0]).split(".")[0] in ("huggingface_hub", "hf_xet"):
        seen["imports"].append(args[0])
sys.addaudithook(hook)
import atexit
record = sys.argv[1]
atexit.register(lambda: open(record, "w").write(json.dumps(seen)))
sys.argv = ["gemma-desktop", *sys.argv[2:]]
import runpy
runpy.run_module("gemma_desktop", run_name="__main__")
"""


def _audited(tmp_path: Path, endpoint: str, *args: str) -> dict[str, list[object]]:
    record = tmp_path / "audit.json"
    env = {k: v for k, v in os.environ.items() if k != "GEMMA_DESKTOP_HOME"}
    env["HF_ENDPOINT"] = endpoint
    done = subprocess.run([sys.executable, "-c", AUDITED, str(record), *args],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    data: dict[str, list[object]] = json.loads(record.read_text())
    return data


def test_asking_makes_no_connection(tmp_path: Path, starter_model_path: Path) -> None:
    home = tmp_path / "home"
    (home / "models").mkdir(parents=True)
    os.link(starter_model_path, home / "models" / starter_model_path.name)
    seen = _audited(tmp_path, "http://192.0.2.1", "ask", "Hi", "--max-tokens", "4",
                    "--basedir", str(home))
    assert seen["connect"] == [] and seen["imports"] == []


def test_pulling_connects_only_to_the_endpoint(tmp_path: Path) -> None:
    with HFServer(b"\0" * (1 << 20)) as server:
        port = int(server.base.rsplit(":", 1)[1])
        record = tmp_path / "audit.json"
        env = online_env({k: v for k, v in os.environ.items() if k != "GEMMA_DESKTOP_HOME"})
        env["HF_ENDPOINT"] = server.base
        # Telemetry would be on by default: only the app's own setting may turn it off.
        env.pop("HF_HUB_DISABLE_TELEMETRY", None)
        done = subprocess.run(
            [sys.executable, "-c", AUDITED, str(record), "pull", "--repo", REPO, "--file",
             FILENAME, "--basedir", str(tmp_path / "home")],
            env=env, capture_output=True, text=True, timeout=300,
        )
        seen = json.loads(record.read_text())
    # The bytes are no GGUF, so registering fails after the verified download; the
    # connections are what this test is about.
    assert "not a GGUF" in done.stderr or done.returncode == 0, done.stderr
    assert seen["connect"], "the pull connected nowhere"
    assert all(address == ["127.0.0.1", port] for address in seen["connect"])
    # The file's metadata comes from huggingface_hub; nothing but the file was asked for.
    assert "huggingface_hub" in seen["imports"]
    assert {s.path.split("?")[0] for s in server.seen} == {f"/{REPO}/resolve/main/{FILENAME}"}
