"""Layout stability: fixed sidebar, no window growth on send, chips wrapping onto rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt

from tests.ui.conftest import FakeEngine, FakeRegistry, fixture_pdf

LONG_TITLE = "Please summarise the attached quarterly report and " * 6


def test_window_and_sidebar_keep_their_width_on_send(qtbot: Any, make_window: Any) -> None:
    window = make_window(FakeEngine(), FakeRegistry())
    window.resize(1000, 700)
    qtbot.waitUntil(lambda: window.width() == 1000, timeout=5000)
    assert window.sidebar.width() == 240
    window.pane.composer.set_text(LONG_TITLE)
    qtbot.keyClick(window.pane.composer.edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not window.chat.busy, timeout=10_000)
    window.sidebar.rename_requested.emit(window.chat.conversation_id, LONG_TITLE.strip())
    qtbot.wait(50)
    assert window.width() == 1000
    assert window.minimumSizeHint().width() < 1000
    assert window.sidebar.width() == 240
    assert window.title_label.full_text == LONG_TITLE.strip()
    assert window.title_label.text().endswith("…")


def test_many_attachments_wrap_onto_rows(qtbot: Any, make_window: Any, tmp_path: Path) -> None:
    window = make_window(FakeEngine(n_ctx=32768), FakeRegistry())
    window.resize(1000, 780)
    source = fixture_pdf("sf_pdflatex-4-pages.pdf").read_bytes()
    paths = []
    for i in range(5):
        path = tmp_path / f"a rather long document name number {i} for the chips.pdf"
        path.write_bytes(source + b"\n%" + bytes(str(i), "ascii"))  # not the same bytes
        paths.append(path)
    window.pane.files_dropped.emit(paths)
    bar = window.pane.attachment_bar
    qtbot.waitUntil(lambda: len(bar.chips()) == 5 and not window.attachments.busy,
                    timeout=30_000)
    qtbot.wait(50)
    chips = bar.chips()
    rows = {chip.y() for chip in chips}
    assert len(rows) >= 2  # wrapped, not squeezed
    for chip in chips:
        assert chip.width() >= chip.minimumSizeHint().width()
        assert chip.geometry().right() <= bar.width()
        shown = chip.name_label.text()
        assert "…" in shown and shown.endswith(".pdf")  # elided in the middle
    assert window.width() == 1000
