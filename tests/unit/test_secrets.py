"""TokenStore: keyring when there is one, session memory when not, never leaking the token."""

from __future__ import annotations

from typing import Any

import keyring.backend
import pytest
from keyring.errors import KeyringError, PasswordDeleteError

from gemma_desktop.core.errors import UserError
from gemma_desktop.core.secrets import SERVICE, USERNAME, TokenStore

TOKEN = "hf_SecretTokenValue123"


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A keyring that keeps passwords in a dict."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.data.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.data[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.data.pop((service, username), None) is None:
            raise PasswordDeleteError("not found")


class BrokenKeyring(MemoryKeyring):
    """A keyring whose every call fails, echoing the password to prove it is not logged."""

    def get_password(self, service: str, username: str) -> str | None:
        raise KeyringError("locked")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise KeyringError(f"cannot store {password}")

    def delete_password(self, service: str, username: str) -> None:
        raise OSError("dbus gone")


def test_keyring_round_trip_persists_across_instances() -> None:
    backend = MemoryKeyring()
    status = TokenStore(backend).set(f"  {TOKEN}\n")
    assert status.stored and status.persistent and "keyring" in status.message
    assert backend.data[(SERVICE, USERNAME)] == TOKEN
    other = TokenStore(backend)
    assert other.get() == TOKEN
    assert other.status().stored and other.status().persistent
    other.clear()
    assert TokenStore(backend).get() is None
    assert not TokenStore(backend).status().stored
    other.clear()  # clearing twice is fine


def test_default_backend_without_keyring_keeps_token_for_session(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import keyring
    from keyring.backends import fail

    monkeypatch.setattr(keyring, "get_keyring", lambda: fail.Keyring())
    store = TokenStore()
    assert store.get() is None
    assert not store.status().persistent
    status = store.set(TOKEN)
    assert status.stored and not status.persistent
    assert "until Gemma Desktop closes" in status.message
    assert store.get() == TOKEN
    assert TokenStore().get() is None  # nothing outlives the instance
    store.clear()
    assert store.get() is None and not store.status().stored


def test_failing_backend_falls_back(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    store = TokenStore(BrokenKeyring())
    assert store.get() is None
    status = store.set(TOKEN)
    assert status.stored and not status.persistent
    assert store.get() == TOKEN
    store.clear()
    assert store.get() is None
    assert TOKEN not in caplog.text


def test_unexpected_backend_exception_falls_back() -> None:
    class Weird(MemoryKeyring):
        def set_password(self, service: str, username: str, password: str) -> None:
            raise ValueError("surprise")

    store = TokenStore(Weird())
    assert not store.set(TOKEN).persistent
    assert store.get() == TOKEN


@pytest.mark.parametrize("bad", ["", "   ", "\n", "hf_abc\ndef", "hf abc", "hf_\tabc", "hf_\x00x"])
def test_bad_tokens_refused(bad: str) -> None:
    backend = MemoryKeyring()
    with pytest.raises(UserError):
        TokenStore(backend).set(bad)
    assert backend.data == {}


@pytest.mark.parametrize("backend", [MemoryKeyring(), BrokenKeyring()])
def test_token_never_in_repr_or_status(backend: Any) -> None:
    store = TokenStore(backend)
    status = store.set(TOKEN)
    for text in (repr(store), str(store), repr(status), str(status), repr(store.status())):
        assert TOKEN not in text
