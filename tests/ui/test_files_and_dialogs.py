"""Attachments (passwords, damaged and duplicate files), dialogs, Regenerate/Stop state, layout."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QInputDialog, QMessageBox

from tests.ui.conftest import FakeEngine, FakeRegistry, fixture_pdf

PASSWORD_PDF = "sf_libreoffice-writer-password.pdf"


class Prompts:
    """Stands in for QInputDialog.getText: records each prompt, answers from a script."""

    def __init__(self, answers: list[tuple[str, bool]]) -> None:
        self.answers = list(answers)
        self.prompts: list[str] = []

    def __call__(self, _parent: Any, _title: str, label: str, *args: Any, **kwargs: Any
                 ) -> tuple[str, bool]:
        self.prompts.append(label)
        return self.answers.pop(0)


def _password_window(make_window: Any, monkeypatch: pytest.MonkeyPatch,
                     answers: list[tuple[str, bool]]) -> tuple[Any, Prompts]:
    window = make_window(FakeEngine(n_ctx=8192), FakeRegistry())
    window.attachments._ask_password = window.ask_password  # the real modal prompt path
    prompts = Prompts(answers)
    monkeypatch.setattr(QInputDialog, "getText", prompts)
    return window, prompts


def test_password_pdf_wrong_then_right(qtbot: Any, make_window: Any,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    window, prompts = _password_window(make_window, monkeypatch,
                                       [("not-it", True), ("openpassword", True)])
    window.pane.files_dropped.emit([fixture_pdf(PASSWORD_PDF)])
    qtbot.waitUntil(lambda: not window.attachments.busy and len(prompts.prompts) == 2,
                    timeout=30_000)
    assert "protected with a password" in prompts.prompts[0]
    assert "was wrong" in prompts.prompts[1]
    [chip] = window.pane.attachment_bar.chips()
    [item] = window.attachments.items
    assert item.state == "ready" and item.document.pages == 1 and item.tokens
    assert chip.detail_label.full_text == f"1 page · {item.tokens:,} tokens"


def test_password_prompt_cancelled_then_retried(qtbot: Any, make_window: Any,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    window, prompts = _password_window(make_window, monkeypatch,
                                       [("", False), ("openpassword", True)])
    pdf = fixture_pdf(PASSWORD_PDF)
    window.pane.files_dropped.emit([pdf])
    qtbot.waitUntil(lambda: not window.attachments.busy and bool(prompts.prompts),
                    timeout=30_000)
    [chip] = window.pane.attachment_bar.chips()
    assert chip.property("state") == "failed"
    assert "Password needed" in chip.detail_label.full_text
    assert window.attachments.ready() == []
    assert window.isVisible()
    # Adding the file again asks once more (instead of flashing the failed chip).
    window.pane.files_dropped.emit([pdf])
    qtbot.waitUntil(lambda: window.attachments.ready() != [], timeout=30_000)
    assert len(prompts.prompts) == 2
    assert [c.property("state") for c in window.pane.attachment_bar.chips()] == ["ready"]


def test_damaged_pdf_fails_alone(qtbot: Any, make_window: Any) -> None:
    window = make_window(FakeEngine(n_ctx=8192), FakeRegistry())
    window.pane.files_dropped.emit([fixture_pdf("ocr_invalid.pdf"),
                                    fixture_pdf("sf_pdflatex-4-pages.pdf")])
    qtbot.waitUntil(lambda: not window.attachments.busy, timeout=30_000)
    bad, good = window.pane.attachment_bar.chips()
    assert bad.property("state") == "failed"
    assert "damaged or not a PDF" in bad.detail_label.full_text
    assert good.property("state") == "ready"
    assert good.detail_label.full_text.startswith("4 pages · ")
    assert [i.name for i in window.attachments.ready()] == ["sf_pdflatex-4-pages.pdf"]


def test_same_file_twice_shows_one_chip_and_flashes_it(qtbot: Any, make_window: Any,
                                                       tmp_path: Path) -> None:
    window = make_window(FakeEngine(n_ctx=8192), FakeRegistry())
    bar = window.pane.attachment_bar
    pdf = fixture_pdf("sf_pdflatex-4-pages.pdf")
    scanned = fixture_pdf("ocr_linn.pdf")
    window.pane.files_dropped.emit([pdf, scanned])
    qtbot.waitUntil(lambda: not window.attachments.busy, timeout=30_000)
    assert len(bar.chips()) == 2
    # The same paths again (one spelled with '..'), and the same bytes under another name.
    copy = tmp_path / "copy of report.pdf"
    shutil.copy(pdf, copy)
    with qtbot.waitSignal(window.attachments.duplicate_found, timeout=5000) as same_path:
        window.pane.files_dropped.emit([pdf.parent / ".." / "pdf" / pdf.name])
    assert same_path.args == [bar.chips()[0].key]
    assert bar.chips()[0].flashing
    window.pane.files_dropped.emit([scanned])
    assert len(bar.chips()) == 2 and bar.chips()[1].flashing
    with qtbot.waitSignal(window.attachments.duplicate_found, timeout=10_000) as same_bytes:
        window.pane.files_dropped.emit([copy])
    assert same_bytes.args == [bar.chips()[0].key]
    qtbot.waitUntil(lambda: len(bar.chips()) == 2 and not window.attachments.busy, timeout=5000)
    assert [c.name_label.full_text for c in bar.chips()] == ["sf_pdflatex-4-pages.pdf",
                                                          "ocr_linn.pdf"]
    qtbot.waitUntil(lambda: not bar.chips()[0].flashing, timeout=5000)


def test_regenerate_and_stop_states(qtbot: Any, make_window: Any) -> None:
    window = make_window(FakeEngine(reply=" ".join(["word"] * 5000), delay=0.01), FakeRegistry())
    composer = window.pane.composer
    assert not composer.regenerate_button.isEnabled()  # no model reply yet
    assert composer.send_button.text() == "Send"
    composer.set_text("Tell me a story")
    qtbot.keyClick(composer.edit, Qt.Key.Key_Return)
    assert not composer.regenerate_button.isEnabled()  # preparing
    qtbot.waitUntil(lambda: window.chat.generating, timeout=5000)
    assert composer.send_button.text() == "Stop"
    assert composer.send_button.property("danger") is True
    assert not composer.regenerate_button.isEnabled()
    # Esc stops wherever the focus is, not only in the message box.
    window.activateWindow()
    # Window shortcuts fire only in the active window; activation is asynchronous.
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    window.sidebar.list.setFocus()
    qtbot.keyClick(window.sidebar.list, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not window.chat.busy, timeout=5000)
    assert window.store.list_messages(window.chat.conversation_id)[-1].status == "stopped"
    assert composer.send_button.text() == "Send"
    assert composer.regenerate_button.isEnabled()
    # Stop by clicking the same button.
    qtbot.mouseClick(composer.regenerate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.chat.generating, timeout=5000)
    assert not composer.regenerate_button.isEnabled()
    qtbot.mouseClick(composer.send_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.chat.busy, timeout=5000)
    assert composer.regenerate_button.isEnabled()
    # A new chat has nothing to regenerate.
    window.sidebar.new_requested.emit()
    assert not composer.regenerate_button.isEnabled()


def test_rename_and_delete_through_dialogs(qtbot: Any, make_window: Any,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    window = make_window(FakeEngine(), FakeRegistry())
    window.pane.composer.set_text("First question")
    qtbot.keyClick(window.pane.composer.edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not window.chat.busy, timeout=5000)
    first = window.chat.conversation_id
    renames = Prompts([("  Trip to Köln  ", True), ("ignored", False)])
    monkeypatch.setattr(QInputDialog, "getText", renames)
    item = window.sidebar.list.item(0)
    rect = window.sidebar.list.visualItemRect(item)
    viewport = window.sidebar.list.viewport()
    # A real double-click starts with a press on the same item.
    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(viewport, Qt.MouseButton.LeftButton, pos=rect.center())
    assert renames.prompts == ["Name:"]
    assert window.sidebar.list.item(0).text() == "Trip to Köln"
    assert window.title_label.full_text == "Trip to Köln"
    assert window.store.get_conversation(first).title == "Trip to Köln"
    window.sidebar.ask_rename(first)  # cancelled: nothing changes
    assert window.store.get_conversation(first).title == "Trip to Köln"

    window.sidebar.new_requested.emit()
    second = window.chat.conversation_id
    asked: list[str] = []
    answers = [QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Yes]

    def question(_parent: Any, _title: str, text: str, *args: Any) -> Any:
        asked.append(text)
        return answers.pop(0)

    monkeypatch.setattr(QMessageBox, "question", question)
    window.sidebar.ask_delete(first)
    assert "Trip to Köln" in asked[0] and "cannot be undone" in asked[0]
    assert first in window.sidebar.ids()
    window.sidebar.ask_delete(first)
    assert first not in window.sidebar.ids()
    assert [c.id for c in window.store.list_conversations()] == [second]
    assert window.chat.conversation_id == second


def test_status_bar_and_picker_fit_the_window(qtbot: Any, make_window: Any) -> None:
    from gemma_desktop.core.models import ModelEntry

    registry = FakeRegistry()
    name = ("Gemma 3 270M starter (base model, for trying the app offline), "
            "a name far too long for any header, with a long suffix")
    registry.entry = ModelEntry("fake", name, Path("fake.gguf"), description="A fake.",
                                size_bytes=1 << 20, context_length=4096)
    window = make_window(FakeEngine(n_ctx=8192), registry)
    window.status.set_speed(42.5)
    for width in (1280, 1180, 1000):
        window.resize(width, 780)
        qtbot.waitUntil(lambda w=width: window.status.width() == w, timeout=5000)
        qtbot.wait(10)
        bar = window.status.context_bar
        right = bar.mapTo(window.status, QPoint(bar.width(), 0)).x()
        assert right <= window.status.width() - 12, (width, right)
        assert window.status.context_label.isVisible()
        label = window.status.model_label
        assert label.mapTo(window.status, QPoint(label.width(), 0)).x() < bar.x()
    picker = window.model_picker
    shown = picker.displayed_text()
    assert "…" in shown and shown.startswith("Gemma 3") and shown.endswith("suffix")
    assert name in picker.toolTip()
    assert window.status.model_label.toolTip() == name


def test_empty_state_explains_how_to_start(qtbot: Any, make_window: Any) -> None:
    window = make_window(FakeEngine(), FakeRegistry())
    empty = window.pane.view.empty_state
    assert empty.isVisibleTo(window)
    hints = empty.hints.text()
    for words in ("Drag &amp; drop PDFs", "Attach…", "Enter", "Shift+Enter"):
        assert words in hints
    assert "Fake model" in empty.description()
    assert empty.hints.width() <= 560 and empty.text.width() <= 560
    centre = empty.hints.mapTo(window.pane.view, QPoint(empty.hints.width() // 2, 0)).x()
    assert abs(centre - window.pane.view.viewport().width() // 2) < 24


def test_failed_chips_give_full_guidance_in_the_tooltip(qtbot: Any, make_window: Any) -> None:
    from gemma_desktop.ui.attachment_bar import CHIP_TEXT_WIDTH

    window = make_window(FakeEngine(n_ctx=8192), FakeRegistry())
    window.pane.files_dropped.emit([fixture_pdf("ocr_linn.pdf"), fixture_pdf("ocr_invalid.pdf")])
    qtbot.waitUntil(lambda: not window.attachments.busy
                    and len(window.pane.attachment_bar.chips()) == 2, timeout=30_000)
    scanned, damaged = window.pane.attachment_bar.chips()
    qtbot.waitUntil(lambda: scanned.detail_label.width() > 0, timeout=5000)
    # The chip: a short reason on one line, without repeating the file name.
    assert scanned.detail_label.full_text.startswith("Scanned, no text to read")
    assert scanned.detail_label.width() <= CHIP_TEXT_WIDTH
    assert "…" in scanned.detail_label.text()
    # The tooltip: the whole reason and what to do about it.
    assert "OCRmyPDF" in scanned.toolTip() and "Not sent:" in scanned.toolTip()
    assert "save or print it as a new PDF" in damaged.toolTip()
    assert damaged.detail_label.toolTip() == damaged.toolTip()
