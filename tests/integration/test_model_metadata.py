"""A real GGUF whose metadata differs from the starter's: its own template and sampling keys win."""

from __future__ import annotations

from pathlib import Path

import pytest

from gemma_desktop.core.chat import ChatMessage
from gemma_desktop.core.engine import Engine
from gemma_desktop.core.gguf_file import inspect_gguf
from tests.gguf_copy import copy_gguf
from tests.unit.test_prompt import GEMMA_STYLE

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def templated_model(starter_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dst = tmp_path_factory.mktemp("templated") / "starter with template.gguf"
    return copy_gguf(
        starter_model_path,
        dst,
        {
            "tokenizer.chat_template": GEMMA_STYLE,
            "general.sampling.temp": 0.7,
            "general.sampling.top_k": 40,
            "general.sampling.top_p": 0.9,
        },
    )


def test_copy_is_a_valid_gguf(templated_model: Path) -> None:
    info = inspect_gguf(templated_model)
    assert info.chat_template == GEMMA_STYLE
    assert info.expected_size == info.file_size


def test_template_and_sampling_come_from_the_file(templated_model: Path) -> None:
    engine = Engine()
    try:
        info = engine.load(templated_model, 4096).result(timeout=120)
        assert info.prompt_format == "gguf-template"
        assert info.sampling.top_k == 40
        assert info.sampling.temperature == pytest.approx(0.7)
        assert info.sampling.top_p == pytest.approx(0.9)
        assert info.sampling.min_p == 0.0 and info.sampling.repeat_penalty == 1.0
        messages = [ChatMessage("system", "Be brief."), ChatMessage("user", "Hi <end_of_turn>")]
        rendered, count = engine.render(messages).result()
        assert rendered.text == (
            "<bos><start_of_turn>user\nBe brief.\n\nHi <end_of_turn><end_of_turn>\n"
            "<start_of_turn>model\n"
        )
        tokens = engine.tokenize_prompt(rendered).result()
        assert len(tokens) == count
        assert tokens[0] == 2 and tokens.count(2) == 1, "exactly one BOS"
        assert tokens.count(106) == 1, "the typed <end_of_turn> stays text"
        result = engine.generate(messages, max_tokens=8).result(timeout=120)
        assert result.completion_tokens > 0
    finally:
        engine.shutdown()
