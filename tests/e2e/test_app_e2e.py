"""The real app as users start it (`gemma-desktop --basedir DIR`): a typed message, a screenshot."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.model]

ARTIFACTS = Path(os.environ.get("GEMMA_DESKTOP_ARTIFACTS", Path(__file__).parents[2] / "build"))


def _wait_for(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


@pytest.fixture
def display() -> Iterator[str | None]:
    """A private Xvfb display when Xvfb is installed, else None (Qt offscreen)."""
    if not shutil.which("Xvfb"):
        yield None
        return
    number = 100 + os.getpid() % 400
    server = subprocess.Popen(
        ["Xvfb", f":{number}", "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    _wait_for(lambda: Path(f"/tmp/.X11-unix/X{number}").exists(), 10, "Xvfb")
    try:
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(10)


def _rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    if not db.exists():
        return []
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        try:
            return con.execute(sql).fetchall()
        except sqlite3.OperationalError:
            return []


def test_real_app_sends_a_message_and_is_screenshotted(
    display: str | None, starter_model_path: Path, tmp_path: Path
) -> None:
    basedir = tmp_path / "Daten März"
    (basedir / "models").mkdir(parents=True)
    os.link(starter_model_path, basedir / "models" / starter_model_path.name)
    ready = tmp_path / "ready"
    env = {k: v for k, v in os.environ.items() if k != "GEMMA_DESKTOP_HOME"}
    env["GEMMA_DESKTOP_READY_FILE"] = str(ready)
    if display:
        env["DISPLAY"] = display
        env["QT_QPA_PLATFORM"] = "xcb"
    else:
        env["QT_QPA_PLATFORM"] = "offscreen"
    started = time.monotonic()
    app = subprocess.Popen(
        [sys.executable, "-m", "gemma_desktop", "--basedir", str(basedir)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        _wait_for(ready.exists, 60, "the window to be shown")
        shown_after = time.monotonic() - started
        assert app.poll() is None
        db = basedir / "history.sqlite3"
        if not display or not shutil.which("xdotool"):
            pytest.skip(f"window shown after {shown_after:.1f}s; no X server to type into")
        xenv = {**env, "DISPLAY": display}
        window = subprocess.run(
            ["xdotool", "search", "--sync", "--name", "Gemma Desktop"],
            env=xenv, capture_output=True, text=True, timeout=30, check=True,
        ).stdout.split()[0]
        # No window manager runs under Xvfb, so focus the window directly.
        subprocess.run(["xdotool", "windowfocus", "--sync", window], env=xenv, timeout=30)
        time.sleep(2.0)  # let the model finish loading; sending before that is queued anyway
        subprocess.run(
            ["xdotool", "type", "--delay", "20", "Hello from the end-to-end test"],
            env=xenv, timeout=60, check=True,
        )
        subprocess.run(["xdotool", "key", "Return"], env=xenv, timeout=30, check=True)
        _wait_for(
            lambda: _rows(db, "select status from messages where role='assistant' "
                              "and status in ('done','stopped')"),
            120, "the reply to finish",
        )
        users = _rows(db, "select content from messages where role='user'")
        assert users == [("Hello from the end-to-end test",)]
        reply = _rows(db, "select content, status from messages where role='assistant'")
        assert reply and reply[0][1] == "done"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = ARTIFACTS / "e2e-window.png"
        time.sleep(0.5)
        subprocess.run(["import", "-display", display, "-window", "root", str(shot)],
                       env=xenv, timeout=60, check=True)
        assert shot.stat().st_size > 10_000
        assert app.poll() is None, "the app is still running after the reply"
    finally:
        if app.poll() is None:
            app.send_signal(signal.SIGTERM)
            try:
                app.wait(15)
            except subprocess.TimeoutExpired:
                app.kill()
        output = ""
        if app.stdout:
            output = app.stdout.read()
            app.stdout.close()
        assert "Traceback" not in output, output
