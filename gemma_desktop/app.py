"""Starts the desktop app: wires core objects (history, models, engine) into the main window."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time
import traceback
from collections.abc import Sequence
from logging.handlers import RotatingFileHandler
from pathlib import Path
from types import TracebackType
from typing import Any

READY_ENV = "GEMMA_DESKTOP_READY_FILE"
LOG_NAME = "gemma-desktop.log"

log = logging.getLogger("gemma_desktop")


def _setup_logging(folder: Path) -> Path:
    """Log to <basedir>/logs/gemma-desktop.log (rotated)."""
    path = folder / LOG_NAME
    handler = RotatingFileHandler(path, maxBytes=2_000_000, backupCount=3, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return path


class _CrashReporter:
    """sys.excepthook and threading.excepthook: log the traceback, tell the user, keep running.

    Threading: hooks may fire on any thread; the window is told through a queued signal.
    """

    def __init__(self) -> None:
        self.window: Any = None
        self._bridge: Any = None

    def install(self) -> None:
        """Replace the hooks; the previous ones are not called (the app keeps running)."""
        from PySide6.QtCore import QObject, Signal

        class _Bridge(QObject):
            raised = Signal(object)

        self._bridge = _Bridge()
        self._bridge.raised.connect(self._on_raised)
        sys.excepthook = self._excepthook
        threading.excepthook = self._thread_excepthook

    def _excepthook(self, kind: type[BaseException], exc: BaseException,
                    tb: TracebackType | None) -> None:
        text = "".join(traceback.format_exception(kind, exc, tb))
        log.error("unexpected error\n%s", text)
        if self._bridge is not None:
            self._bridge.raised.emit(exc)

    def _thread_excepthook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None:
            self._excepthook(args.exc_type, args.exc_value, args.exc_traceback)

    def _on_raised(self, exc: BaseException) -> None:
        if self.window is not None:
            self.window.show_unexpected_error(exc)
        else:
            print(f"gemma-desktop: unexpected error: {exc}", file=sys.stderr)


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="gemma-desktop", add_help=True)
    parser.add_argument("--basedir", default=None)
    parser.add_argument("--ready-file", default=os.environ.get(READY_ENV))
    parser.add_argument("--theme", choices=("system", "light", "dark"), default="system")
    known, _rest = parser.parse_known_args(list(argv))
    return known


def run_gui(basedir: str | None, argv: Sequence[str]) -> int:
    """Open the window on the data folder and run the Qt event loop; returns the exit code."""
    started = time.perf_counter()
    options = _parse(argv[1:] if argv and not str(argv[0]).startswith("-") else argv)
    from PySide6.QtWidgets import QApplication, QMessageBox

    from gemma_desktop.core.errors import UserError
    from gemma_desktop.core.history import HistoryStore
    from gemma_desktop.core.models import ModelRegistry
    from gemma_desktop.core.paths import resolve_paths
    from gemma_desktop.ui.theme import ThemeManager

    app = QApplication.instance() or QApplication([str(argv[0]) if argv else "gemma-desktop"])
    app.setApplicationName("Gemma Desktop")
    app.setOrganizationName("GemmaDesktop")
    try:
        paths = resolve_paths(basedir or options.basedir).ensure()
    except UserError as exc:
        QMessageBox.critical(None, "Gemma Desktop cannot start", str(exc))
        return 2
    log_path = _setup_logging(paths.logs)
    reporter = _CrashReporter()
    reporter.install()
    force = {"light": False, "dark": True}.get(options.theme)
    theme = ThemeManager(app, force_dark=force)
    try:
        store, warning = HistoryStore.open_or_recover(paths.database)
    except UserError as exc:
        QMessageBox.critical(None, "Gemma Desktop cannot open its history", str(exc))
        return 2
    store.mark_interrupted()
    registry = ModelRegistry(paths)
    # The engine module imports llama_cpp only when a model loads, so the window shows fast.
    from gemma_desktop.core.engine import Engine

    engine = Engine()
    from gemma_desktop.ui.main_window import MainWindow

    window = MainWindow(store, registry, engine, paths.base)
    reporter.window = window
    theme.theme_changed.connect(window.apply_theme)
    window.apply_theme(theme.colors)
    ready_file = options.ready_file

    def on_shown() -> None:
        elapsed = time.perf_counter() - started
        log.info("window shown after %.2fs (log: %s)", elapsed, log_path)
        print(f"gemma-desktop: window shown ({elapsed:.2f}s)", file=sys.stderr, flush=True)
        if ready_file:
            Path(ready_file).write_text(f"{os.getpid()}\n", "utf-8")

    window.shown.connect(on_shown)
    window.show()
    if warning is not None:
        window.pane.show_banner(str(warning))
    window.start()
    try:
        return int(app.exec())
    finally:
        window.shutdown()
        store.close()


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m gemma_desktop.app [--basedir DIR]`."""
    args = list(sys.argv if argv is None else argv)
    options = _parse(args[1:])
    return run_gui(options.basedir, args)


if __name__ == "__main__":
    sys.exit(main())
