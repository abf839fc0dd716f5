"""PDF text extraction with PyMuPDF: "[page N]" markers, passwords, scanned and broken files."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

# PyMuPDF is only partly annotated; its few untyped calls below are marked for mypy.
import pymupdf

from gemma_desktop.core.documents.model import (
    Document,
    ExtractionCancelled,
    ScannedDocumentError,
    read_bytes,
    sha256_hex,
)
from gemma_desktop.core.errors import DocumentError, PasswordRequiredError

# PDF readers accept junk before the header as long as "%PDF" is within the first 1024 bytes.
PDF_MAGIC = b"%PDF"
MAGIC_WINDOW = 1024

# MuPDF's default text flags minus ligature preservation: "ﬁ" becomes "fi", which the model
# tokenises and the user searches like normal text. Content-stream order (no sort=True) is kept
# on purpose: it reads multi-column papers column by column, where sort=True interleaves the
# columns line by line and is about 9x slower (measured on sf_multicolumn / GeoTopo).
_TEXT_FLAGS = pymupdf.TEXTFLAGS_TEXT & ~pymupdf.TEXT_PRESERVE_LIGATURES

_TRAILING_SPACE = re.compile(r"[^\S\n]+\n")
_BLANK_RUNS = re.compile(r"\n{3,}")
# Stray C0 controls come from odd font encodings (math fonts, symbol glyphs); they mean nothing
# to the model and can upset prompt rendering, so they become spaces. Tab and newline stay.
_CONTROLS = {c: " " for c in range(0x20) if c not in (0x09, 0x0A)} | {0x7F: " "}

_UNREADABLE_HINT = (
    "Open it in a PDF viewer to check it; if it opens there, save or print it as a new PDF "
    "and attach that copy."
)

ProgressCallback = Callable[[int, int], None]
CancelCallback = Callable[[], bool]


def extract_pdf(
    path: Path,
    password: str | None = None,
    *,
    cancel: CancelCallback | None = None,
    progress: ProgressCallback | None = None,
) -> Document:
    """Extract a PDF's text page by page, each page introduced by a "[page N]" line."""
    path = Path(path)
    data = read_bytes(path)
    name = path.name
    if not data:
        raise DocumentError(
            f"{name} cannot be read: it is empty (0 bytes).",
            hint="It may not have finished downloading or copying; get a complete copy.",
        )
    if PDF_MAGIC not in data[:MAGIC_WINDOW]:
        raise _unreadable(name)
    # Opening from the bytes already read means the hash and the text describe the same content
    # even if the file changes meanwhile, and sidesteps path-encoding quirks on Windows.
    try:
        doc = pymupdf.open(stream=data, filetype="pdf")  # type: ignore[no-untyped-call]
    except Exception:  # MuPDF raises several unrelated types for damaged files
        raise _unreadable(name) from None
    try:
        _unlock(doc, name, password)
        page_texts = _page_texts(doc, name, cancel, progress)
        total = doc.page_count
    finally:
        doc.close()  # type: ignore[no-untyped-call]
    return _build(path, data, total, page_texts)


def _unreadable(name: str) -> DocumentError:
    """The error for a file MuPDF cannot parse as a PDF."""
    return DocumentError(
        f"{name} cannot be read: it is damaged or not a PDF.", hint=_UNREADABLE_HINT
    )


def _unlock(doc: pymupdf.Document, name: str, password: str | None) -> None:
    """Authenticate an encrypted PDF or raise PasswordRequiredError."""
    # Read needs_pass only BEFORE authenticate(): PyMuPDF 1.28 re-reads the encryption state
    # when it is queried afterwards and the page streams then fail to decrypt (empty text,
    # "zlib error"), seen on sf_libreoffice-writer-password.pdf.
    if not doc.needs_pass:
        return
    if password is None or password == "":
        raise PasswordRequiredError(
            f"{name} is protected with a password.",
            hint="Enter the password that opens it in a PDF viewer.",
        )
    if not doc.authenticate(password):  # type: ignore[no-untyped-call]
        raise PasswordRequiredError(
            f"The password for {name} is wrong.",
            hint="Check it (passwords are case-sensitive) and try again.",
            wrong=True,
        )


def _page_texts(
    doc: pymupdf.Document,
    name: str,
    cancel: CancelCallback | None,
    progress: ProgressCallback | None,
) -> list[str | None]:
    """The cleaned text of every page in order: "" without text, None when the page is damaged."""
    total = doc.page_count
    texts: list[str | None] = []
    for index in range(total):
        if cancel is not None and cancel():
            raise ExtractionCancelled(f"reading {name} was cancelled after {index} pages")
        try:
            page = doc.load_page(index)  # type: ignore[no-untyped-call]
            raw = page.get_text("text", flags=_TEXT_FLAGS)
        except Exception:  # one damaged page must not cost the others; it becomes a warning
            texts.append(None)
        else:
            texts.append(clean_page_text(raw))
        if progress is not None:
            progress(index + 1, total)
    return texts


def clean_page_text(raw: str) -> str:
    """Drop control characters and trailing spaces, and collapse runs of blank lines."""
    text = _TRAILING_SPACE.sub("\n", raw.translate(_CONTROLS) + "\n")
    return _BLANK_RUNS.sub("\n\n", text).strip("\n")


def _build(path: Path, data: bytes, total: int, page_texts: list[str | None]) -> Document:
    """Join the pages with markers, or raise when no page has text."""
    name = path.name
    if total == 0:
        raise DocumentError(f"{name} has no pages.", hint=_UNREADABLE_HINT)
    damaged = [number for number, text in enumerate(page_texts, 1) if text is None]
    empty = [number for number, text in enumerate(page_texts, 1) if text is not None and not text]
    if len(damaged) == total:
        raise _unreadable(name)
    if len(empty) + len(damaged) == total:
        raise ScannedDocumentError(
            f"{name} is scanned, no text to read: its pages are images without a text layer.",
            hint="Run text recognition (OCR) on it first, for example with OCRmyPDF, and attach "
            "the result; sending pages as images to the model comes in a later version.",
        )
    parts: list[str] = []
    offsets: list[tuple[int, int]] = []
    position = 0
    for number, text in enumerate(page_texts, 1):
        if not text:
            continue
        chunk = f"[page {number}]\n{text}\n"
        offsets.append((number, position))
        parts.append(chunk)
        position += len(chunk) + 1  # +1 for the newline that joins the pages into a blank line
    warnings: list[str] = []
    if empty:
        warnings.append(_pages_warning(empty, "has", "have", "no text layer (scanned?)"))
    if damaged:
        warnings.append(_pages_warning(damaged, "is", "are", "damaged"))
    return Document(
        path=path,
        kind="pdf",
        name=name,
        pages=total,
        text="\n".join(parts).rstrip("\n"),
        content_hash=sha256_hex(data),
        warnings=warnings,
        page_offsets=tuple(offsets),
    )


def _pages_warning(pages: Sequence[int], one: str, many: str, problem: str) -> str:
    """A user-readable note naming the left-out pages, e.g. "Pages 3, 7 have no text layer ..."."""
    listed = _page_ranges(pages)
    if len(pages) == 1:
        return f"Page {listed} {one} {problem}; it is not included."
    return f"Pages {listed} {many} {problem}; they are not included."


def _page_ranges(pages: Sequence[int]) -> str:
    """Page numbers as a short list: 1-3, 5, 9-12 (runs of three or more become ranges)."""
    runs: list[list[int]] = []
    for page in pages:
        if runs and page == runs[-1][-1] + 1:
            runs[-1].append(page)
        else:
            runs.append([page])
    items: list[str] = []
    for run in runs:
        if len(run) >= 3:
            items.append(f"{run[0]}–{run[-1]}")
        else:
            items.extend(str(page) for page in run)
    return ", ".join(items)
