"""ask --think on real GGUFs: thinking to stderr, answer to stdout, JSON fields, dry run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_cli import run
from tests.thinking_models import CLOSE_AT, THOUGHT_PROMPT

pytestmark = pytest.mark.model


def test_think_on_a_model_without_thinking_is_a_clear_error(home: Path) -> None:
    done = run(home, "ask", "Hi", "--think")
    assert done.returncode == 2
    assert "has no thinking mode" in done.stderr and "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1 and done.stdout == ""


def test_dry_run_think_shows_the_think_token(home: Path, gemma4_shaped_model: Path) -> None:
    on = run(home, "ask", "Hi", "--system", "Be brief.", "--think", "--dry-run",
             "--model", str(gemma4_shaped_model))
    off = run(home, "ask", "Hi", "--system", "Be brief.", "--dry-run",
              "--model", str(gemma4_shaped_model))
    assert on.returncode == off.returncode == 0, on.stderr
    assert on.stdout.startswith("<bos><|turn>system\n<|think|>Be brief.<turn|>")
    assert "<|think|>" not in off.stdout
    data = json.loads(run(home, "ask", "Hi", "--think", "--dry-run", "--json",
                          "--model", str(gemma4_shaped_model)).stdout)
    assert data["prompt"].startswith("<bos><|turn>system\n<|think|><turn|>")


def test_think_splits_stderr_and_stdout(home: Path, thinking_model: Any) -> None:
    model = str(thinking_model.path)
    done = run(home, "ask", THOUGHT_PROMPT, "--think", "--max-tokens", "9", "--model", model)
    assert done.returncode == 0, done.stderr
    data = json.loads(run(home, "ask", THOUGHT_PROMPT, "--think", "--max-tokens", "9",
                          "--json", "--model", model).stdout)
    assert data["thinking"] and data["answer"]
    assert data["thinking_tokens"] == CLOSE_AT + 1 and data["thinking_complete"] is True
    assert done.stdout.strip() == data["answer"].strip()
    assert data["thinking"] in done.stderr and data["thinking"] not in done.stdout
    for marker in ("<|channel>", "<channel|>"):
        assert marker not in done.stdout and marker not in done.stderr


def test_limit_reached_while_thinking_says_so(home: Path, thinking_model: Any) -> None:
    model = str(thinking_model.path)
    done = run(home, "ask", THOUGHT_PROMPT, "--think", "--max-tokens", "3", "--model", model)
    assert done.returncode == 3  # no answer: scripts can tell
    assert done.stdout.strip() == ""
    assert "no answer: the model was still thinking when --max-tokens 3 was reached" in (
        done.stderr)
    assert "--max-tokens (e.g. 12)" in done.stderr
    as_json = run(home, "ask", THOUGHT_PROMPT, "--think", "--max-tokens", "3", "--json",
                  "--model", model)
    assert as_json.returncode == 3
    data = json.loads(as_json.stdout)
    assert data["thinking_complete"] is False and data["answer"] == ""
    assert data["finish_reason"] == "length" and data["thinking"]


def test_a_loop_is_stopped_with_a_reason(home: Path) -> None:
    done = run(home, "ask", "1 1 1 1 1 1 1 1 1 1 1 1", "--temperature", "0",
               "--max-tokens", "400", "--json")
    data = json.loads(done.stdout)
    assert data["finish_reason"] == "repetition" and data["completion_tokens"] <= 210
    assert data["repeated"] == "1"
    plain = run(home, "ask", "1 1 1 1 1 1 1 1 1 1 1 1", "--temperature", "0",
                "--max-tokens", "400")
    assert "stopped: the model kept repeating “1”" in plain.stderr
