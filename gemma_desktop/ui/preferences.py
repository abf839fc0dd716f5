"""App-wide chat preferences (context size, reply length) kept in a small JSON file."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from gemma_desktop.ui.settings_dialog import (
    DEFAULT_MAX_TOKENS,
    DEFAULT_N_CTX,
    DEFAULT_THINKING_MAX_TOKENS,
)

log = logging.getLogger(__name__)
FILE_NAME = "ui-preferences.json"


class Preferences:
    """Settings for every chat; a damaged file falls back to the defaults.

    Threading: GUI thread only (tiny file, written on change).
    """

    def __init__(self, folder: Path) -> None:
        self._path = Path(folder) / FILE_NAME
        self.n_ctx = DEFAULT_N_CTX
        self.max_tokens = DEFAULT_MAX_TOKENS
        self.thinking_max_tokens = DEFAULT_THINKING_MAX_TOKENS
        self.think_by_default = False
        self.fold_thinking = True
        self.setup_done = False  # the first-run wizard was finished (or skipped)
        try:
            data = json.loads(self._path.read_text("utf-8"))
            self.n_ctx = int(data.get("n_ctx", DEFAULT_N_CTX))
            self.max_tokens = int(data.get("max_tokens", DEFAULT_MAX_TOKENS))
            self.thinking_max_tokens = int(
                data.get("thinking_max_tokens", DEFAULT_THINKING_MAX_TOKENS)
            )
            self.think_by_default = bool(data.get("think_by_default", False))
            self.fold_thinking = bool(data.get("fold_thinking", True))
            self.setup_done = bool(data.get("setup_done", False))
        except FileNotFoundError:
            pass
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            log.warning("ignoring unreadable %s: %s", self._path, exc)

    def save(self) -> None:
        """Write the file; failures are logged, the values stay in memory."""
        try:
            values = {
                "n_ctx": self.n_ctx,
                "max_tokens": self.max_tokens,
                "thinking_max_tokens": self.thinking_max_tokens,
                "think_by_default": self.think_by_default,
                "fold_thinking": self.fold_thinking,
                "setup_done": self.setup_done,
            }
            self._path.write_text(json.dumps(values), "utf-8")
        except OSError as exc:
            log.warning("cannot save %s: %s", self._path, exc)
