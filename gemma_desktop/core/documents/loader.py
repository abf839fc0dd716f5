"""Open any supported document: PDFs by content or suffix, everything else as text."""

from __future__ import annotations

from pathlib import Path

from gemma_desktop.core.documents.model import Document, read_bytes
from gemma_desktop.core.documents.pdf import (
    MAGIC_WINDOW,
    PDF_MAGIC,
    CancelCallback,
    ProgressCallback,
    extract_pdf,
)
from gemma_desktop.core.documents.text import read_text_file

# For the file dialog's filter. Dispatch does not depend on it: any file is tried, PDFs are
# recognised by content, and other files are read as text unless they look binary.
SUPPORTED_SUFFIXES: tuple[str, ...] = (
    ".pdf",
    ".txt", ".md", ".markdown", ".rst", ".csv", ".tsv", ".json", ".jsonl", ".yaml", ".yml",
    ".toml", ".ini", ".cfg", ".xml", ".html", ".htm", ".log", ".tex",
    ".py", ".js", ".ts", ".tsx", ".jsx", ".java", ".kt", ".c", ".h", ".cpp", ".hpp", ".cs",
    ".go", ".rs", ".rb", ".php", ".swift", ".scala", ".r", ".sql", ".sh", ".ps1", ".bat",
    ".css", ".scss", ".vue", ".lua", ".pl", ".m", ".jl", ".dart",
)  # fmt: skip


def is_pdf(path: Path) -> bool:
    """True when the file starts like a PDF or is named like one."""
    if path.suffix.lower() == ".pdf":
        return True
    return PDF_MAGIC in read_bytes(path, MAGIC_WINDOW)


def load_document(
    path: Path,
    password: str | None = None,
    *,
    cancel: CancelCallback | None = None,
    progress: ProgressCallback | None = None,
) -> Document:
    """Read a PDF or text file into a Document; raises DocumentError with a hint otherwise."""
    path = Path(path)
    if is_pdf(path):
        return extract_pdf(path, password, cancel=cancel, progress=progress)
    return read_text_file(path)


def dialog_filter() -> str:
    """The Qt file-dialog filter string for the supported suffixes."""
    patterns = " ".join(f"*{suffix}" for suffix in SUPPORTED_SUFFIXES)
    return f"Documents ({patterns});;All files (*)"
