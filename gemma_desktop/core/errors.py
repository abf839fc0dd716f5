"""Errors the user or the environment can cause, each with a message that says what to do."""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix; its message says what happened and what to do.

    Anything that is not a UserError is a bug: logged with a traceback and shown as
    "unexpected error" while the app keeps running.
    """

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}".strip()

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only fields (hint, wrong, ...) survive the trip from a helper process.
        return (_rebuild, (type(self), self.message, dict(self.__dict__)))


def _rebuild(cls: type[UserError], message: str, state: dict[str, object]) -> UserError:
    """Recreate a pickled UserError with all its fields."""
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class ModelFileError(UserError):
    """A model file is missing, damaged, or not a GGUF model."""


class ModelNotFoundError(UserError):
    """No installed model matches the name the user gave."""


class ModelLoadError(UserError):
    """llama.cpp could not load a model that passed the file check."""


class DocumentError(UserError):
    """A document cannot be read (broken, unsupported, empty)."""


class PasswordRequiredError(DocumentError):
    """An encrypted PDF needs its password; `wrong` is True when a given password failed."""

    def __init__(self, message: str, *, hint: str = "", wrong: bool = False) -> None:
        super().__init__(message, hint=hint)
        self.wrong = wrong


class ContextOverflowError(UserError):
    """The prompt (history plus attachments) does not fit the model's context window."""

    def __init__(self, message: str, *, hint: str = "", needed: int = 0, n_ctx: int = 0) -> None:
        super().__init__(message, hint=hint)
        self.needed = needed
        self.n_ctx = n_ctx


class NoModelLoadedError(UserError):
    """An action needs a model but none is loaded."""


class StorageError(UserError):
    """The data folder cannot be written or read (permissions, full disk, damaged database)."""
