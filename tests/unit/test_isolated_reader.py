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


def test_cancel_stops_a_read(reader: DocumentReader) -> None:
    job, future = reader.read(PDF / "sf_GeoTopo-komprimiert.pdf")
    reader.cancel(job)  # before its first page: the helper checks before every page
    with pytest.raises(ExtractionCancelled):
        future.result(timeout=60)


def test_a_failing_progress_callback_does_not_block_later_reads(reader: DocumentReader) -> None:
    def broken(_done: int, _total: int) -> None:
        raise RuntimeError("widget already deleted")

    assert reader.read(PDF / "sf_pdflatex-4-pages.pdf", progress=broken)[1].result(60).pages == 4
    assert reader.read(PDF / "sf_pdflatex-4-pages.pdf")[1].result(timeout=60).pages == 4


def _kill_helper(reader: DocumentReader) -> None:
    assert reader._pool is not None
    for process in list(reader._pool._processes.values()):  # type: ignore[attr-defined]
        process.kill()
        process.join(10)


def test_a_helper_killed_once_during_a_read_is_retried(reader: DocumentReader) -> None:
    small = PDF / "sf_pdflatex-4-pages.pdf"
    assert reader.read(small)[1].result(timeout=60).pages == 4  # the helper is running
    _job, future = reader.read(PDF / "sf_GeoTopo-komprimiert.pdf")
    _kill_helper(reader)  # mid-read: 117 pages take far longer than this
    assert future.result(timeout=120).pages == 117


def test_a_file_that_crashes_the_helper_twice_is_a_clear_error(reader: DocumentReader) -> None:
    assert reader.read(PDF / "sf_pdflatex-4-pages.pdf")[1].result(timeout=60).pages == 4
    _job, future = reader.read(PDF / "sf_GeoTopo-komprimiert.pdf")
    killed: set[int] = set()
    deadline = time.monotonic() + 60
    # Kill every helper as soon as it exists, as a file that crashes MuPDF would.
    while not future.done() and time.monotonic() < deadline:
        pool = reader._pool
        for process in list(pool._processes.values()) if pool else []:  # type: ignore[attr-defined]
            if process.pid not in killed and process.is_alive():
                killed.add(process.pid)
                process.kill()
        time.sleep(0.002)
    with pytest.raises(DocumentError, match="crash"):
        future.result(timeout=60)
    assert len(killed) == 2
    assert reader.read(PDF / "sf_pdflatex-4-pages.pdf")[1].result(timeout=60).pages == 4


def test_a_helper_that_died_while_idle_is_replaced_silently(reader: DocumentReader) -> None:
    small = PDF / "sf_pdflatex-4-pages.pdf"
    assert reader.read(small)[1].result(timeout=60).pages == 4
    _kill_helper(reader)
    assert reader.read(small)[1].result(timeout=60).pages == 4


def test_the_helper_exits_when_the_app_dies(tmp_path: Path) -> None:
    """A killed app must not leave its reader process behind."""
    import os
    import signal
    import subprocess
    import sys

    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from gemma_desktop.core.documents.isolated import DocumentReader\n"
        "r = DocumentReader()\n"
        f"r.read(Path({str(PDF / 'sf_pdflatex-4-pages.pdf')!r}))[1].result(60)\n"
        "print(list(r._pool._processes), flush=True)\n"
        "time.sleep(60)\n"
    )
    app = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert app.stdout is not None
    helper_pid = int(app.stdout.readline().strip("[]\n"))
    app.stdout.close()
    os.kill(app.pid, signal.SIGKILL)
    app.wait(10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(helper_pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(helper_pid, signal.SIGKILL)
    raise AssertionError("the reader process outlived the app")
