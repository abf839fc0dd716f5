"""The thinking panel: live header clock, collapse rules, copying, auto-scroll and height cap."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QGuiApplication, QWheelEvent
from PySide6.QtWidgets import QApplication, QVBoxLayout, QWidget

from gemma_desktop.ui.thinking_panel import (
    ThinkingPanel,
    format_duration,
    thinking_summary,
)


@pytest.fixture
def panel(qtbot: Any) -> Iterator[ThinkingPanel]:
    """A panel in a shown, chat-column-wide window, laid out as in a message card."""
    host = QWidget()  # held here: qtbot keeps only a weak reference
    qtbot.addWidget(host)
    layout = QVBoxLayout(host)
    widget = ThinkingPanel()
    layout.addWidget(widget)
    layout.addStretch(1)
    host.resize(520, 600)
    host.show()
    qtbot.waitExposed(host)
    yield widget


def _header(panel: ThinkingPanel) -> Any:
    return panel.findChild(QWidget, "ThinkingHeader")


def _seconds(header: str) -> int:
    match = re.search(r"(\d+) s", header)
    return int(match.group(1)) if match else 0


def _lines(count: int) -> str:
    return "".join(f"step {i}: weigh the options\n" for i in range(count))


@pytest.mark.parametrize(("seconds", "expected"), [
    (0, "<1 s"), (0.4, "<1 s"), (-1, "<1 s"), (1, "1 s"), (12.9, "12 s"), (59.99, "59 s"),
    (60, "1 min 00 s"), (65, "1 min 05 s"), (3599, "59 min 59 s"), (3600, "1 h 00 min"),
    (3720, "1 h 02 min"), (90000, "25 h 00 min"),
])
def test_format_duration(seconds: float, expected: str) -> None:
    assert format_duration(seconds) == expected


def test_thinking_summary_wording() -> None:
    assert thinking_summary(12, 840, live=True, complete=True) == "Thinking… 12 s · 840 tokens"
    assert thinking_summary(0.3, 5, live=True, complete=True) == "Thinking… · 5 tokens"
    assert thinking_summary(12, 840, live=False, complete=True) == "Thought for 12 s · 840 tokens"
    assert (thinking_summary(12, 1024, live=False, complete=False)
            == "Thinking did not finish · 1,024 tokens")
    assert thinking_summary(65, 1, live=False, complete=True) == "Thought for 1 min 05 s · 1 token"
    assert thinking_summary(3, 0, live=False, complete=True) == "Thought for 3 s"
    assert thinking_summary(0, 0, live=True, complete=True) == "Thinking…"


def test_live_thinking_grows_and_its_clock_runs(qtbot: Any, panel: ThinkingPanel) -> None:
    assert panel.isHidden()
    panel.start()
    assert panel.isVisible() and panel.expanded and panel.live
    panel.append("First, ", 2)
    panel.append("the question.", 5)
    assert panel.text == "First, the question."
    assert panel.header_text.startswith("Thinking…") and panel.header_text.endswith("5 tokens")
    assert _header(panel).text() == panel.header_text
    assert panel.body.isVisible()
    before = _seconds(_header(panel).text())
    qtbot.waitUntil(lambda: _seconds(_header(panel).text()) > before, timeout=3000)


def test_resumed_thinking_counts_from_the_elapsed_time(panel: ThinkingPanel) -> None:
    panel.start(elapsed_s=42.5, tokens=300, text="Earlier thoughts.")
    assert panel.text == "Earlier thoughts."
    assert panel.header_text == "Thinking… 42 s · 300 tokens"


def test_finish_collapses_and_the_header_toggles(qtbot: Any, panel: ThinkingPanel) -> None:
    panel.start()
    panel.append("Reasoning.", 840)
    panel.finish(seconds=12.2, tokens=840, complete=True, collapse=True)
    assert not panel.expanded and not panel.live and panel.isVisible()
    assert panel.body.isHidden()
    assert panel.header_text == "Thought for 12 s · 840 tokens"
    assert panel.property("state") == "done"
    header = _header(panel)
    with qtbot.waitSignal(panel.expanded_changed) as opened:
        qtbot.mouseClick(header, Qt.MouseButton.LeftButton)
    assert opened.args == [True]
    assert panel.expanded and panel.body.isVisible()
    with qtbot.waitSignal(panel.expanded_changed) as closed:
        qtbot.mouseClick(header, Qt.MouseButton.LeftButton)
    assert closed.args == [False]
    assert not panel.expanded and panel.body.isHidden()


def test_header_toggles_from_the_keyboard(qtbot: Any, panel: ThinkingPanel) -> None:
    panel.show_stored("A stored thought.", seconds=3, tokens=9, complete=True)
    header = _header(panel)
    assert header.focusPolicy() & Qt.FocusPolicy.TabFocus
    header.setFocus()
    qtbot.keyClick(header, Qt.Key.Key_Space)
    assert panel.expanded


def test_unfinished_thinking_stays_open_as_a_warning(panel: ThinkingPanel) -> None:
    panel.start()
    panel.append("Going round in circles", 1024)
    panel.finish(seconds=30, tokens=1024, complete=False, collapse=True)
    assert panel.expanded and not panel.live and panel.body.isVisible()
    assert panel.header_text == "Thinking did not finish · 1,024 tokens"
    assert panel.property("state") == "unfinished"


def test_finish_without_collapse_stays_open(panel: ThinkingPanel) -> None:
    panel.start(text="Thought.")
    panel.finish(seconds=2, tokens=3, complete=True, collapse=False)
    assert panel.expanded and panel.body.isVisible()
    assert panel.header_text == "Thought for 2 s · 3 tokens"


def test_a_thought_reopened_by_hand_while_live_is_not_collapsed(
        qtbot: Any, panel: ThinkingPanel) -> None:
    panel.start(text="Reading along.")
    qtbot.mouseClick(_header(panel), Qt.MouseButton.LeftButton)
    qtbot.mouseClick(_header(panel), Qt.MouseButton.LeftButton)
    panel.finish(seconds=2, tokens=3, complete=True, collapse=True)
    assert panel.expanded


def test_stored_thoughts(panel: ThinkingPanel) -> None:
    panel.show_stored("Old reasoning.", seconds=75, tokens=1500, complete=True)
    assert panel.isVisible() and not panel.expanded and not panel.live
    assert panel.header_text == "Thought for 1 min 15 s · 1,500 tokens"
    panel.show_stored("Cut off", seconds=5, tokens=20, complete=False)
    assert panel.expanded and panel.text == "Cut off"
    assert panel.header_text == "Thinking did not finish · 20 tokens"
    panel.show_stored("", seconds=0, tokens=0, complete=True)
    assert panel.isHidden()


def test_text_is_selectable_and_copyable(qtbot: Any, panel: ThinkingPanel) -> None:
    flags = panel.body.textInteractionFlags()
    assert flags & Qt.TextInteractionFlag.TextSelectableByMouse
    assert flags & Qt.TextInteractionFlag.TextSelectableByKeyboard
    assert panel.body.isReadOnly()
    panel.start(text="Line one\n")
    panel.append("Line *two* is not Markdown", 12)
    copy = panel.findChild(QWidget, "ThinkingCopy")
    with qtbot.waitSignal(panel.copied):
        qtbot.mouseClick(copy, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == "Line one\nLine *two* is not Markdown"


def test_body_follows_the_end_until_the_user_scrolls_up(panel: ThinkingPanel) -> None:
    panel.start()
    bar = panel.body.verticalScrollBar()
    for i in range(60):
        panel.append(f"line {i}\n", i + 1)
    assert bar.maximum() > 0
    assert bar.value() == bar.maximum()
    bar.setValue(0)  # the user scrolls up to read
    for i in range(20):
        panel.append(f"more {i}\n", 100 + i)
    assert bar.value() == 0
    bar.setValue(bar.maximum())  # back at the end: following again
    panel.append(_lines(10), 200)
    assert bar.value() == bar.maximum()


def test_body_grows_up_to_a_cap(panel: ThinkingPanel) -> None:
    panel.start(text="One short line.")
    short = panel.body.height()
    assert 0 < short < panel.body.cap()
    assert panel.body.verticalScrollBar().maximum() == 0  # everything fits, nothing scrolls
    panel.append(_lines(3), 10)
    assert panel.body.height() > short
    panel.append(_lines(200), 2000)
    assert panel.body.height() <= panel.body.cap() <= 260
    assert panel.body.verticalScrollBar().maximum() > 0


def test_keyboard_select_all_and_copy(qtbot: Any, panel: ThinkingPanel) -> None:
    panel.show_stored("Whole thought,\nboth lines.", seconds=1, tokens=6, complete=True)
    panel.set_expanded(True)
    panel.body.setFocus()
    qtbot.keyClick(panel.body, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(panel.body, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QGuiApplication.clipboard().text() == "Whole thought,\nboth lines."
    assert panel.text == "Whole thought,\nboth lines."  # read-only: the keys changed nothing


def _wheel(widget: QWidget) -> QWheelEvent:
    """Send one notch of wheel-down to `widget`; returns the event to read its accepted flag."""
    spot = QPointF(widget.rect().center())
    event = QWheelEvent(spot, QPointF(widget.mapToGlobal(spot.toPoint())), QPoint(),
                        QPoint(0, -120), Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                        Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)
    return event


def test_wheel_over_a_thought_with_nothing_to_scroll_goes_to_the_chat(
        panel: ThinkingPanel) -> None:
    # Qt passes an ignored wheel event on to the parents (the chat's scroll area) by itself.
    panel.show_stored("Short.", seconds=1, tokens=2, complete=True)
    panel.set_expanded(True)
    assert not _wheel(panel.body.viewport()).isAccepted()
    panel.show_stored(_lines(100), seconds=1, tokens=2, complete=True)
    panel.set_expanded(True)
    assert _wheel(panel.body.viewport()).isAccepted()  # a long thought scrolls itself first
    assert panel.body.verticalScrollBar().value() > 0
