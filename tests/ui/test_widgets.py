"""Markdown rendering, the no-remote-resources rule, token batching and the task runner."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Any

import pytest
from PySide6.QtCore import QUrl
from PySide6.QtGui import QTextDocument

from gemma_desktop.ui.markdown_render import MarkdownRenderer, split_blocks
from gemma_desktop.ui.message_widget import INTERRUPTED_NOTE, MarkdownView, MessageWidget
from gemma_desktop.ui.workers import TaskRunner, TokenBatcher

SAMPLE = """# Title

Intro *text* with `code`.

- one
- two

  more of two

| a | b |
|---|---|
| 1 | 2 |

```python
def f():

    return 1
```

Last [link](https://example.com) ![pic](http://example.com/x.png)
"""


def test_split_blocks_keeps_fences_and_indented_continuations() -> None:
    blocks, tail = split_blocks(SAMPLE)
    assert blocks[2] == "- one\n- two\n\n  more of two"
    assert blocks[4].startswith("```python") and blocks[4].endswith("```")
    assert tail.startswith("Last")
    open_fence = "Text\n\n```\ncode\n\nmore code\n"
    assert split_blocks(open_fence) == (["Text"], "```\ncode\n\nmore code\n")


def test_streamed_render_matches_the_final_render(qtbot: Any) -> None:
    widget = MessageWidget("assistant", MarkdownRenderer())
    qtbot.addWidget(widget)
    widget.begin_stream()
    for i in range(0, len(SAMPLE), 7):
        widget.append(SAMPLE[i:i + 7])
    streamed = " ".join(widget.body.toPlainText().split())
    widget.finish("done", "stop", {"completion_tokens": 12, "decode_tokens_per_s": 30.5,
                                   "ttft_s": 0.2})
    final = " ".join(widget.body.toPlainText().split())
    assert streamed == final
    assert "def f():" in final and "more of two" in final
    assert "[image: pic]" in final  # images become links, never fetched
    assert widget._footer.text() == "12 tokens · 30.5 tok/s · 0.20 s to first token"


def test_finished_blocks_are_rendered_once(qtbot: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    renderer = MarkdownRenderer()
    rendered: list[int] = []
    original = renderer.to_html
    monkeypatch.setattr(renderer, "to_html", lambda text: rendered.append(len(text)) or
                        original(text))
    widget = MessageWidget("assistant", renderer)
    qtbot.addWidget(widget)
    widget.begin_stream()
    paragraph = "word " * 40 + "\n\n"
    for _ in range(200):
        widget.append(paragraph)
    # Each append renders at most the new finished block and a short tail, never everything.
    assert max(rendered) < 3 * len(paragraph)


def test_remote_resources_are_never_loaded(qtbot: Any) -> None:
    view = MarkdownView()
    qtbot.addWidget(view)
    kind = int(QTextDocument.ResourceType.ImageResource.value)
    assert view.loadResource(kind, QUrl("http://example.com/x.png")) is None
    assert view.loadResource(kind, QUrl("file:///etc/passwd")) is None
    html = MarkdownRenderer().to_html('<img src="http://example.com/a.png"> ![a](http://x/y.png)')
    assert "<img" not in html


def test_interrupted_and_error_notes(qtbot: Any) -> None:
    widget = MessageWidget("assistant", MarkdownRenderer())
    qtbot.addWidget(widget)
    widget.set_text("partial")
    widget.finish("stopped", "interrupted", {})
    assert widget._note.text() == INTERRUPTED_NOTE
    widget.finish("error", "error", {"error": "llama.cpp failed"})
    assert widget._note.text() == "llama.cpp failed"


def test_token_batcher_batches_a_flood_from_another_thread(qtbot: Any) -> None:
    batcher = TokenBatcher()
    batches: list[str] = []
    batcher.batch_ready.connect(batches.append)
    batcher.start()
    worker = threading.Thread(target=lambda: [batcher.push(f"{i} ") for i in range(5000)])
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: "".join(batches).count(" ") == 5000, timeout=5000)
    batcher.flush()
    assert len(batches) < 50  # tens of updates, not one per token
    assert "".join(batches) == "".join(f"{i} " for i in range(5000))


def test_task_runner_delivers_in_the_gui_thread(qtbot: Any) -> None:
    runner = TaskRunner()
    gui = threading.get_ident()
    seen: list[tuple[str, Any, int]] = []
    runner.run(lambda: threading.get_ident(),
               on_done=lambda v: seen.append(("done", v, threading.get_ident())))
    runner.run(lambda: 1 / 0,
               on_error=lambda e: seen.append(("error", type(e), threading.get_ident())))
    engine_future: Future[int] = Future()
    runner.watch(engine_future, on_done=lambda v: seen.append(("future", v,
                                                               threading.get_ident())))
    threading.Thread(target=lambda: engine_future.set_result(7)).start()
    qtbot.waitUntil(lambda: len(seen) == 3, timeout=5000)
    assert all(thread == gui for _, _, thread in seen)
    done = next(s for s in seen if s[0] == "done")
    assert done[1] != gui
    assert ("error", ZeroDivisionError, gui) in seen
    runner.shutdown()


def test_task_runner_reports_unhandled_errors(qtbot: Any) -> None:
    runner = TaskRunner()
    with qtbot.waitSignal(runner.task_failed, timeout=5000) as blocker:
        runner.run(lambda: {}["missing"])
    assert isinstance(blocker.args[0], KeyError)
    runner.shutdown()


def _lines(widget: Any) -> list[str]:
    # QTextDocument writes a <br> as U+2028 and a new block as "\n".
    return [line.strip() for line in
            widget.body.toPlainText().replace("\u2028", "\n").split("\n") if line.strip()]


def test_user_text_is_plain_and_keeps_its_line_breaks(qtbot: Any) -> None:
    widget = MessageWidget("user", MarkdownRenderer())
    qtbot.addWidget(widget)
    widget.set_text("Line one\nLine two *not bold* <b>x</b>")
    widget.finish("done", None, {})
    assert _lines(widget) == ["Line one", "Line two *not bold* <b>x</b>"]
    assert widget.text == "Line one\nLine two *not bold* <b>x</b>"


def test_model_single_newlines_are_line_breaks_streamed_and_final(qtbot: Any) -> None:
    text = "First line\nSecond line\n\n**Next** paragraph\nwith a break"
    widget = MessageWidget("assistant", MarkdownRenderer())
    qtbot.addWidget(widget)
    widget.begin_stream()
    for i in range(0, len(text), 5):
        widget.append(text[i:i + 5])
    expected = ["First line", "Second line", "Next paragraph", "with a break"]
    assert _lines(widget) == expected
    widget.finish("done", "stop", {})
    assert _lines(widget) == expected
