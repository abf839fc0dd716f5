"""Plain text files: decode by BOM, then UTF-8, then a guessed legacy encoding with a note."""

from __future__ import annotations

import codecs
from pathlib import Path

from gemma_desktop.core.documents.model import Document, read_bytes, sha256_hex
from gemma_desktop.core.errors import DocumentError

# UTF-32 first: its little-endian BOM starts with the UTF-16 one (FF FE).
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

# cp1252 is what Windows editors write for Western languages; it fails on five unused bytes,
# and latin-1 decodes anything, so the chain always ends with some text.
_FALLBACKS = ("cp1252", "latin-1")

# Control characters that real text files do contain: tab, newlines, form feed, escape (ANSI
# colours in logs), backspace (man pages).
_TEXT_CONTROLS = frozenset("\t\n\r\f\v\x1b\b")
_SAMPLE_CHARS = 8192
_MAX_CONTROL_SHARE = 0.05

_BINARY_HINT = "Attach text files (.txt, .md, .csv, source code) or PDFs."


def read_text_file(path: Path) -> Document:
    """Read a text file into a Document, refusing empty and binary files."""
    path = Path(path)
    data = read_bytes(path)
    name = path.name
    if not data:
        raise DocumentError(f"{name} is empty.", hint="There is no text in it to send.")
    text, warnings = _decode(data, name)
    _refuse_binary(text, name)
    # Universal newlines: CRLF (Windows) and lone CR (old Mac) both become LF.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise DocumentError(f"{name} is empty.", hint="It holds only spaces or blank lines.")
    return Document(
        path=path,
        kind="text",
        name=name,
        pages=0,
        text=text,
        content_hash=sha256_hex(data),
        warnings=warnings,
    )


def _decode(data: bytes, name: str) -> tuple[str, list[str]]:
    """Decode by BOM, then strict UTF-8, then cp1252 / latin-1; returns text and warnings."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            body = data[len(bom) :]
            try:
                return body.decode(encoding), []
            except UnicodeDecodeError:
                # A BOM is a strong statement about the encoding; keep it and mark the bad bytes.
                return body.decode(encoding, errors="replace"), [
                    f"Some characters are not valid {encoding.upper()} and are shown as �."
                ]
    # NUL bytes never occur in UTF-8 or legacy 8-bit text; without a UTF-16/32 BOM they mean
    # binary. Checked before decoding so a large binary file is refused quickly.
    if b"\x00" in data:
        raise _binary(name)
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data" and exc.start >= len(data) - 3:
            # Only the last character is cut: a truncated UTF-8 file, not another encoding.
            return data.decode("utf-8", errors="replace"), [
                "The file ends in the middle of a character; it may have been cut short."
            ]
    for encoding in _FALLBACKS:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return text, [f"Encoding guessed as {encoding} (the file is not UTF-8)."]
    raise AssertionError("latin-1 decodes every byte")  # pragma: no cover


def _refuse_binary(text: str, name: str) -> None:
    """Raise when the decoded text looks like binary data (NULs or many control characters)."""
    sample = text[:_SAMPLE_CHARS]
    if "\x00" in sample:
        raise _binary(name)
    controls = sum(1 for char in sample if char < " " and char not in _TEXT_CONTROLS)
    if controls > len(sample) * _MAX_CONTROL_SHARE:
        raise _binary(name)


def _binary(name: str) -> DocumentError:
    """The error for a file that is not text."""
    return DocumentError(f"{name} looks like a binary file, not text.", hint=_BINARY_HINT)
