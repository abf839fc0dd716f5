"""Which model is loaded: pick the default at start, switch, open a GGUF, reload for a new n_ctx."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from gemma_desktop.core.errors import UserError
from gemma_desktop.ui.preferences import Preferences
from gemma_desktop.ui.workers import TaskRunner

log = logging.getLogger(__name__)


class ModelSession(QObject):
    """Loads models into the Engine without blocking the GUI.

    Threading: GUI thread only; the registry runs on the TaskRunner's pool (the starter is
    assembled there), llama.cpp loads on the engine thread.
    Signals: `loading_started(str)` with a display name, `model_loaded(object, object)` with
    (ModelEntry, ModelInfo), `load_failed(str)`, `models_listed(list, object)` with the
    entries and the current id, `open_failed(str)` for a GGUF that cannot be added.
    """

    loading_started = Signal(str)
    model_loaded = Signal(object, object)
    load_failed = Signal(str)
    models_listed = Signal(list, object)
    open_failed = Signal(str)

    def __init__(self, registry: Any, engine: Any, runner: TaskRunner, preferences: Preferences,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._registry = registry
        self._engine = engine
        self._runner = runner
        self._prefs = preferences
        self.entry: Any = None
        self.loading = False

    def start(self) -> None:
        """Find the default model (assembling the starter if needed) and load it."""
        self.loading_started.emit("")
        self._runner.run(self._registry.default_model, on_done=self._on_default_found,
                         on_error=self._on_failed)

    def refresh_list(self) -> None:
        """Re-read the registry and emit models_listed."""
        self._runner.run(
            self._registry.list,
            on_done=lambda entries: self.models_listed.emit(
                entries, None if self.entry is None else self.entry.id),
            on_error=self._on_failed,
        )

    def choose(self, model_id: str) -> None:
        """Load the model with this registry id."""
        self._runner.run(self._registry.get, model_id, on_done=self.load,
                         on_error=self._on_failed)

    def open_gguf(self, path: Path) -> None:
        """Check and register a GGUF file, then load it."""
        self._runner.run(self._registry.add_local, path, on_done=self.load,
                         on_error=lambda exc: self.open_failed.emit(str(exc)))

    def reload(self) -> None:
        """Load the current model again (the context size changed)."""
        if self.entry is not None:
            self.load(self.entry)

    def n_ctx_for(self, entry: Any) -> int:
        """The preferred context size, capped at what the model was trained for."""
        trained = getattr(entry, "context_length", None)
        return min(self._prefs.n_ctx, trained) if trained else self._prefs.n_ctx

    def load(self, entry: Any) -> None:
        """Load a ModelEntry (stopping any reply being written)."""
        if entry is None:
            self.load_failed.emit("That model is no longer registered.")
            return
        self.entry = entry
        self.loading = True
        self.loading_started.emit(entry.display_name)
        self._engine.stop()
        future = self._engine.load(entry.path, self.n_ctx_for(entry))
        self._runner.watch(future, on_done=lambda info: self._on_loaded(entry, info),
                           on_error=self._on_failed)
        self.refresh_list()

    def _on_default_found(self, entry: Any) -> None:
        self.load(entry)

    def _on_loaded(self, entry: Any, info: Any) -> None:
        self.loading = False
        try:
            self._registry.mark_used(entry.id)
        except UserError as exc:
            log.warning("cannot remember the last model: %s", exc)
        self.model_loaded.emit(entry, info)

    def _on_failed(self, exc: BaseException) -> None:
        self.loading = False
        if isinstance(exc, UserError):
            self.load_failed.emit(str(exc))
        else:
            self.load_failed.emit(f"Unexpected error: {exc}")
            self._runner.task_failed.emit(exc)
        self.refresh_list()
