"""The Document the readers return, their shared errors, and reading files with clear errors."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from gemma_desktop.core.errors import DocumentError

DocumentKind = Literal["pdf", "text"]


@dataclass(frozen=True, slots=True)
class Document:
    """Text extracted from one user file, ready to be written into a prompt."""

    path: Path
    kind: DocumentKind
    name: str
    # Physical page count of a PDF (pages without text included); 0 for text files.
    pages: int
    # For PDFs every page with text is preceded by a "[page N]" line, so answers can cite pages.
    text: str
    content_hash: str
    warnings: list[str] = field(default_factory=list)
    # (page number, offset of its "[page N]" marker in `text`) for each page included, in order;
    # lets later chunking and citation code map a text position back to its page.
    page_offsets: tuple[tuple[int, int], ...] = ()

    @property
    def chars(self) -> int:
        """Number of characters in the extracted text."""
        return len(self.text)


class ExtractionCancelled(Exception):
    """The caller's cancel() returned True; extraction stopped between pages."""


class ScannedDocumentError(DocumentError):
    """A PDF whose pages are only images: there is no text layer to read."""


def sha256_hex(data: bytes) -> str:
    """Hex sha256 of `data`, the identity of a document's content."""
    return hashlib.sha256(data).hexdigest()


def read_bytes(path: Path, limit: int | None = None) -> bytes:
    """Read a file (or its first `limit` bytes), turning OS errors into a DocumentError."""
    name = path.name or str(path)
    # A directory fails differently per OS (IsADirectoryError, PermissionError on Windows),
    # so it is checked up front to give one clear message everywhere.
    if path.is_dir():
        raise DocumentError(
            f"{name} is a folder, not a file.",
            hint="Attach the documents inside it one by one.",
        )
    try:
        with path.open("rb") as handle:
            return handle.read() if limit is None else handle.read(limit)
    except FileNotFoundError:
        raise DocumentError(
            f"{name} cannot be found.",
            hint=f"It may have been moved, renamed or deleted: {path}",
        ) from None
    except PermissionError:
        raise DocumentError(
            f"{name} cannot be opened: permission denied.",
            hint="Check that your account may read the file, or copy it to a folder of your own.",
        ) from None
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        raise DocumentError(
            f"{name} cannot be read: {reason}.",
            hint="Check that the file is available (a removed drive or a network share?).",
        ) from None
