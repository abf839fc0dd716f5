"""The window with the real engine and a real GGUF that thinks (see tests/thinking_models.py)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from tests.thinking_models import CLOSE_AT, THOUGHT_PROMPT
from tests.ui.conftest import write_prefs

pytestmark = pytest.mark.model


def test_think_cut_short_continue_and_restart(qtbot: Any, make_window: Any, basedir: Path,
                                              thinking_model: Any) -> None:
    from gemma_desktop.core.engine import Engine
    from gemma_desktop.core.models import ModelRegistry
    from gemma_desktop.core.paths import resolve_paths

    paths = resolve_paths(basedir).ensure()
    local = paths.models / "thinking starter.gguf"
    shutil.copyfile(thinking_model.path, local)
    registry = ModelRegistry(paths)
    registry.mark_used(registry.add_local(local).id)  # the model the window opens with
    # A thinking limit of 3 tokens: the model is still thinking when it is reached.
    write_prefs(basedir, n_ctx=2048, max_tokens=64, thinking_max_tokens=3)
    window = make_window(Engine(), ModelRegistry(paths))
    composer = window.pane.composer
    assert composer.think_button.isEnabled(), (window.engine.model, composer.think_button.toolTip())
    qtbot.mouseClick(composer.think_button, Qt.MouseButton.LeftButton)
    composer.set_text(THOUGHT_PROMPT)
    qtbot.keyClick(composer.edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.chat.generating, timeout=30_000)
    qtbot.waitUntil(lambda: not window.chat.busy, timeout=60_000)
    card = window.pane.view.messages()[-1]
    stored = window.store.list_messages(window.chat.conversation_id)[-1]
    assert stored.content == "" and stored.thinking == card.thinking.text != ""
    assert stored.stats["thinking_complete"] is False
    assert stored.stats["token_ids"] == list(thinking_model.greedy_ids[:3])
    assert "still thinking" in card._note.text()
    assert "did not finish" in card.thinking.header_text and card.thinking.expanded
    assert "<|channel>" not in card.thinking.text

    # Continue thinking: the same row, from the same tokens; the thought closes, the answer
    # comes, and the panel folds.
    more = card.action_buttons()[0]
    assert more.text() == "Continue thinking (+3 tokens)"
    qtbot.mouseClick(more, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.chat.generating, timeout=30_000)
    qtbot.waitUntil(lambda: not window.chat.busy, timeout=60_000)
    stored = window.store.list_messages(window.chat.conversation_id)
    assert [m.role for m in stored] == ["user", "assistant"]
    reply = stored[-1]
    assert reply.stats["thinking_complete"] is True and reply.content.strip()
    assert reply.stats["thinking_tokens"] == CLOSE_AT + 1
    assert reply.stats["reused_tokens"] >= reply.stats["prompt_tokens"] - 1
    for marker in ("<|channel>", "<channel|>"):
        assert marker not in reply.content and marker not in reply.thinking
    assert card.text == reply.content and card.thinking.text == reply.thinking
    assert not card.thinking.expanded and card.thinking.header_text.startswith("Thought for")
    conversation_id = window.chat.conversation_id
    window.close()

    again = make_window(Engine(), ModelRegistry(paths))
    again.chat.open_conversation(conversation_id)
    shown = again.pane.view.messages()[-1]
    assert shown.thinking.text == reply.thinking and shown.text == reply.content
    assert not shown.thinking.expanded
    assert again.pane.composer.thinking
