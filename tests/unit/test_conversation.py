"""Building model turns from stored history, and the fit check that runs before anything is sent."""

from __future__ import annotations

import pytest

from gemma_desktop.core.conversation import (
    StoredTurn,
    TurnAttachment,
    answer_reserve,
    build_messages,
    check_fit,
)
from gemma_desktop.core.errors import ContextOverflowError


def test_documents_come_before_the_question_and_failed_replies_are_left_out() -> None:
    doc = TurnAttachment("report.pdf", "pdf", 2, "[page 1]\nAlpha\n\n[page 2]\nBeta", 20)
    turns = [
        StoredTurn("user", "What is on page 2?", (doc,)),
        StoredTurn("assistant", "", failed=True),
        StoredTurn("user", "Again?"),
    ]
    messages = build_messages("Be exact.", turns)
    assert [m.role for m in messages] == ["system", "user", "user"]
    first = messages[1].content
    assert first.index('<document name="report.pdf" pages="2">') < first.index("[page 2]")
    assert first.index("[page 2]") < first.index("What is on page 2?")


def test_the_reply_room_is_the_reply_limit() -> None:
    assert answer_reserve(1024, 8192) == 1024
    assert answer_reserve(5, 8192) == 5
    assert answer_reserve(100_000, 8192) == 4096


def test_fits_exactly_and_one_more_token_does_not() -> None:
    check_fit(8192 - 1024, 8192, 1024)
    with pytest.raises(ContextOverflowError) as info:
        check_fit(8192 - 1023, 8192, 1024, {"big.pdf": 7000}, n_ctx_max=32768, window=True)
    err = info.value
    assert err.needed == 8193 and err.n_ctx == 8192
    assert "big.pdf 7,000" in err.message and "nothing was cut" in err.message
    assert "Settings" in err.hint and "32,768" in err.hint


def test_advice_never_suggests_the_impossible() -> None:
    with pytest.raises(ContextOverflowError) as at_max:
        check_fit(40_000, 32768, 512, n_ctx_max=32768)
    assert "largest context" in at_max.value.hint and "--ctx" not in at_max.value.hint
    with pytest.raises(ContextOverflowError) as cli:
        check_fit(3000, 2048, 512, n_ctx_max=32768)
    assert "--ctx" in cli.value.hint and "Settings" not in cli.value.hint
