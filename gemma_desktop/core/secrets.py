"""The Hugging Face token, kept in the OS keyring or, where there is none, for this session only."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from gemma_desktop.core.errors import UserError

SERVICE = "gemma-desktop"
USERNAME = "huggingface-token"

SAVED = "Saved in the system keyring."
NOT_SET = "No Hugging Face token is set."
SESSION_ONLY = (
    "No system keyring is available here, so the token is kept until Gemma Desktop closes."
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TokenStatus:
    """Whether a token is set, whether it outlives this session, and that in plain words."""

    stored: bool
    persistent: bool
    message: str


class TokenStore:
    """Reads and writes the token; never writes a file, never raises for keyring trouble."""

    def __init__(self, backend: Any | None = None) -> None:
        self._backend = backend
        self._session: str | None = None

    def __repr__(self) -> str:
        # The token itself must never reach logs or tracebacks through repr.
        held = "set" if self._session is not None else "unset"
        return f"TokenStore(backend={type(self._backend).__name__}, session_token={held})"

    __str__ = __repr__

    def get(self) -> str | None:
        """Return the token, or None when none is set or the keyring cannot be read."""
        if self._session is not None:
            return self._session
        try:
            value = self._keyring().get_password(SERVICE, USERNAME)
        except Exception as exc:  # any backend failure means "no keyring"
            _log_failure("read", exc)
            return None
        return value if isinstance(value, str) and value else None

    def set(self, token: str) -> TokenStatus:
        """Store a token, in the keyring when possible, else in memory for this session."""
        token = _checked(token)
        try:
            self._keyring().set_password(SERVICE, USERNAME, token)
        except Exception as exc:  # fall back rather than lose the token
            _log_failure("save", exc)
            self._session = token
            return TokenStatus(stored=True, persistent=False, message=SESSION_ONLY)
        self._session = None
        return TokenStatus(stored=True, persistent=True, message=SAVED)

    def clear(self) -> None:
        """Forget the token in memory and in the keyring."""
        self._session = None
        try:
            self._keyring().delete_password(SERVICE, USERNAME)
        except Exception as exc:  # nothing stored or no keyring: both mean cleared
            _log_failure("delete", exc)

    def status(self) -> TokenStatus:
        """Describe where the token is kept without revealing it."""
        if self._session is not None:
            return TokenStatus(stored=True, persistent=False, message=SESSION_ONLY)
        try:
            value = self._keyring().get_password(SERVICE, USERNAME)
        except Exception as exc:  # any backend failure means "no keyring"
            _log_failure("read", exc)
            return TokenStatus(stored=False, persistent=False, message=SESSION_ONLY)
        if value:
            return TokenStatus(stored=True, persistent=True, message=SAVED)
        return TokenStatus(stored=False, persistent=True, message=NOT_SET)

    def _keyring(self) -> Any:
        """Return the backend, choosing keyring's default on first use (it is slow to pick)."""
        if self._backend is None:
            import keyring

            self._backend = keyring.get_keyring()
        return self._backend


def _checked(token: str) -> str:
    """Return the stripped token, or raise UserError when it cannot be a token."""
    token = token.strip()
    if not token:
        raise UserError("The Hugging Face token is empty.", hint="Paste the token and try again.")
    if any(ch.isspace() or not ch.isprintable() for ch in token):
        raise UserError(
            "The Hugging Face token contains spaces or line breaks.",
            hint="Copy just the token (it starts with hf_) and paste it again.",
        )
    return token


def _log_failure(action: str, exc: Exception) -> None:
    """Log a keyring failure by type only: backend messages could echo what was passed in."""
    log.info("keyring %s failed (%s); using the session-only token", action, type(exc).__name__)
