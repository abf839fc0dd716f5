"""Cold start: process start to window shown, the app versus a bare PySide6 window, alternately."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import starter_path, summary

BARE = """
import sys, pathlib
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication(sys.argv)
window = QMainWindow()
window.resize(1180, 760)
window.show()
QTimer.singleShot(0, lambda: pathlib.Path(sys.argv[1]).write_text("shown"))
app.exec()
"""


def time_to_ready(command: list[str], ready: Path, env: dict[str, str]) -> float:
    """Seconds from spawning the process until it writes its ready file."""
    ready.unlink(missing_ok=True)
    started = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while not ready.exists():
            if proc.poll() is not None:
                raise RuntimeError(f"{command} exited with {proc.returncode}")
            time.sleep(0.005)
        return time.perf_counter() - started
    finally:
        proc.terminate()
        proc.wait(20)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="gd-cold-"))
    basedir = work / "home"
    (basedir / "models").mkdir(parents=True)
    model = starter_path()
    os.link(model, basedir / "models" / model.name)
    ready = work / "ready"
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "xcb" if env.get("DISPLAY") else "offscreen")
    env["GEMMA_DESKTOP_READY_FILE"] = str(ready)
    app_cmd = [sys.executable, "-m", "gemma_desktop", "--basedir", str(basedir)]
    bare_cmd = [sys.executable, "-c", BARE, str(ready)]
    time_to_ready(app_cmd, ready, env)  # first run creates the database and the registry
    app_times: list[float] = []
    bare_times: list[float] = []
    for round_ in range(args.rounds):
        order = (("app", app_cmd), ("bare", bare_cmd))
        for name, cmd in order if round_ % 2 == 0 else order[::-1]:
            (app_times if name == "app" else bare_times).append(time_to_ready(cmd, ready, env))
    print(f"platform {env['QT_QPA_PLATFORM']}, {args.rounds} rounds")
    print(summary("gemma-desktop start to window shown", app_times, "s"))
    print(summary("bare PySide6 window", bare_times, "s"))
    median = statistics.median(app_times)
    print(f"ratio app/bare (medians): {median / statistics.median(bare_times):.2f}; "
          f"app median {median:.2f} s, target <= 1.5 s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
