"""Where Gemma Desktop keeps its data: --basedir, then GEMMA_DESKTOP_HOME, then the OS default."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from gemma_desktop.core.errors import StorageError

ENV_VAR = "GEMMA_DESKTOP_HOME"
APP_NAME = "GemmaDesktop"


@dataclass(frozen=True)
class AppPaths:
    """All folders and files of one data directory."""

    base: Path

    @property
    def models(self) -> Path:
        return self.base / "models"

    @property
    def database(self) -> Path:
        return self.base / "history.sqlite3"

    @property
    def settings(self) -> Path:
        return self.base / "settings.json"

    @property
    def logs(self) -> Path:
        return self.base / "logs"

    @property
    def cache(self) -> Path:
        return self.base / "cache"

    def ensure(self) -> AppPaths:
        """Create the folders; raise StorageError with advice when that is impossible."""
        try:
            for folder in (self.base, self.models, self.logs, self.cache):
                folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(
                f"Cannot create the data folder {self.base}: {exc.strerror or exc}.",
                hint="Choose another folder with --basedir or fix its permissions.",
            ) from exc
        return self


def resolve_paths(basedir: str | os.PathLike[str] | None = None) -> AppPaths:
    """Pick the data folder: explicit basedir > $GEMMA_DESKTOP_HOME > platformdirs."""
    if basedir:
        return AppPaths(Path(basedir).expanduser().resolve())
    env = os.environ.get(ENV_VAR)
    if env:
        return AppPaths(Path(env).expanduser().resolve())
    import platformdirs

    return AppPaths(Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)))
