"""Documents read in the helper process: same results and errors as in-process, and crashes."""

from __future__ import annotations

import pickle
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gemma_desktop.core.documents.isolated import DocumentReader
from gemma_desktop.core.documents.loader import load_document
from gemma_desktop.core.documents.model import ExtractionCancelled, ScannedDocumentError
from gemma_desktop.core.errors import ContextOverflowError, DocumentError, PasswordRequiredError

PDF = Path(__file__).resolve().parents[1] / "fixtures" / "pdf"


@pytest.fixture
def reader() -> Iterator[DocumentReader]:
    r = DocumentReader()
    yield r
    r.shutdown()


def test_user_errors_keep_their_fields_when_pickled() -> None:
    err = pickle.loads(pickle.dumps(PasswordRequiredError("locked", hint="type it", wrong=True)))
    assert (err.message, err.hint, err.wrong) == ("locked", "type it", True)
    over = pickle.loads(pickle.dumps(ContextOverflowError("big", needed=9, n_ctx=4)))
    assert (over.needed, over.n_ctx, str(over)) == (9, 4, "big")


def test_same_document_as_in_process_with_progress(reader: DocumentReader) -> None:
    seen: list[tuple[int, int]] = []
    path = PDF / "sf_pdflatex-4-pages.pdf"
    _job, future = reader.read(path, progress=lambda d, t: seen.append((d, t)))
    doc = future.result(timeout=60)
    assert doc == load_document(path)
    deadline = time.monotonic() + 5
    while len(seen) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert seen[-1] == (4, 4)


def test_errors_arrive_with_their_type_and_fields(reader: DocumentReader) -> None:
    locked = PDF / "sf_libreoffice-writer-password.pdf"
    with pytest.raises(PasswordRequiredError) as info:
        reader.read(locked, "wrong")[1].result(timeout=60)
    assert info.value.wrong and info.value.hint
    with pytest.raises(ScannedDocumentError, match="scanned, no text to read"):
        reader.read(PDF / "ocr_linn.pdf")[1].result(timeout=60)
    assert reader.read(locked, "openpassword")[1].result(timeout=60).pages == 1


def test_cancel_stops_a_long_read(reader: DocumentReader) -> None:
    seen: list[int] = []
    job, future = reader.read(
        PDF / "sf_GeoTopo-komprimiert.pdf", progress=lambda d, t: seen.append(d)
    )
    deadline = time.monotonic() + 60
    while not seen and time.monotonic() < deadline:
        time.sleep(0.005)
    reader.cancel(job)
    with pytest.raises(ExtractionCancelled):
        future.result(timeout=60)


def test_a_crashing_reader_process_is_a_clear_error_and_is_replaced(
    reader: DocumentReader,
) -> None:
    big = PDF / "sf_GeoTopo-komprimiert.pdf"
    seen: list[int] = []
    _job, future = reader.read(big, progress=lambda d, t: seen.append(d))
    deadline = time.monotonic() + 60
    while not seen and time.monotonic() < deadline:
        time.sleep(0.005)
    assert reader._pool is not None
    for process in list(reader._pool._processes.values()):  # type: ignore[attr-defined]
        process.kill()
    with pytest.raises(DocumentError, match="crash"):
        future.result(timeout=60)
    doc = reader.read(PDF / "sf_pdflatex-4-pages.pdf")[1].result(timeout=60)
    assert doc.pages == 4
