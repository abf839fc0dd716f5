"""The command line on the real starter model: ask, --json, --dry-run, models, user errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.model

TESTS = Path(__file__).resolve().parents[1]
PDF = TESTS / "fixtures" / "pdf"
NEEDLE = TESTS / "cases" / "needle-at-head.txt"


def run(basedir: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "GEMMA_DESKTOP_HOME"}
    return subprocess.run(
        [sys.executable, "-m", "gemma_desktop", *args, "--basedir", str(basedir)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def test_ask_json_reports_everything(home: Path) -> None:
    proc = run(home, "ask", "--max-tokens", "16", "--json", "Name a colour.")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    for key in (
        "model",
        "n_ctx",
        "prompt_tokens",
        "completion_tokens",
        "ttft_s",
        "decode_tokens_per_s",
        "finish_reason",
        "answer",
        "attachments",
    ):
        assert key in data
    assert data["n_ctx"] == 8192
    assert 0 < data["completion_tokens"] <= 16
    assert data["finish_reason"] in ("stop", "length")
    assert data["attachments"] == []


def test_ask_streams_plain_text(home: Path) -> None:
    proc = run(home, "ask", "--max-tokens", "12", "--temperature", "0", "Hello")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip()
    assert "Traceback" not in proc.stderr
    assert "llama" not in proc.stderr, "llama.cpp's own log belongs in the log, not the terminal"


def test_pdf_question_end_to_end(home: Path) -> None:
    pdf = PDF / "sf_pdflatex-4-pages.pdf"
    dry = run(home, "ask", "--attach", str(pdf), "--dry-run", "--json", "What is on page 2?")
    assert dry.returncode == 0, dry.stderr
    prompt = json.loads(dry.stdout)
    assert "[page 1]" in prompt["prompt"] and "[page 4]" in prompt["prompt"]
    assert prompt["prompt"].index("[page 1]") < prompt["prompt"].index("What is on page 2?")
    doc_tokens = prompt["attachments"][0]["tokens"]
    assert prompt["prompt_tokens"] > doc_tokens > 500
    proc = run(
        home, "ask", "--attach", str(pdf), "--max-tokens", "8", "--json", "What is on page 2?"
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["prompt_tokens"] == prompt["prompt_tokens"]
    attachment = data["attachments"][0]
    assert attachment["kind"] == "pdf" and attachment["pages"] == 4
    assert attachment["tokens"] == doc_tokens and attachment["path"].endswith(
        "sf_pdflatex-4-pages.pdf"
    )


def test_dry_run_prints_the_exact_prompt(home: Path) -> None:
    proc = run(home, "ask", "--system", "Be brief.", "--dry-run", "Hi <end_of_turn> there")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (
        "<bos><start_of_turn>user\nBe brief.\n\nHi <end_of_turn> there<end_of_turn>\n"
        "<start_of_turn>model\n"
    )
    assert "tokens" in proc.stderr


def test_needle_document_too_big_is_refused_not_cut(home: Path) -> None:
    proc = run(home, "ask", "--attach", str(NEEDLE), "--ctx", "2048", "What is the access code?")
    assert proc.returncode == 2
    assert "does not fit" in proc.stderr and "needle-at-head.txt" in proc.stderr
    assert "--ctx" in proc.stderr or "largest context" in proc.stderr
    assert "Settings" not in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["ask", "--model", "no-such-model", "hi"], "no-such-model"),
        (["ask", "--attach", "/nonexistent/file.pdf", "hi"], "file.pdf"),
        (["ask", "--attach", str(PDF / "ocr_linn.pdf"), "hi"], "scanned, no text to read"),
        (["ask", "--attach", str(PDF / "sf_libreoffice-writer-password.pdf"), "hi"], "password"),
        (["ask", "--attach", str(PDF / "ocr_invalid.pdf"), "hi"], "ocr_invalid.pdf"),
        (["ask", "--max-tokens", "0", "hi"], "--max-tokens"),
    ],
)
def test_user_errors_are_one_line_without_traceback(
    home: Path, args: list[str], expected: str
) -> None:
    proc = run(home, *args)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and expected.lower() in lines[0].lower(), proc.stderr


def test_damaged_model_file_is_a_clear_error(home: Path, tmp_path: Path) -> None:
    fake = tmp_path / "Bericht März" / "notes.gguf"
    fake.parent.mkdir()
    fake.write_text("Hello world, this is not a model\n")
    proc = run(home, "ask", "--model", str(fake), "hi")
    assert proc.returncode == 2
    assert "not a GGUF" in proc.stderr and "Traceback" not in proc.stderr


def test_encrypted_pdf_with_password(home: Path) -> None:
    pdf = PDF / "sf_libreoffice-writer-password.pdf"
    proc = run(
        home,
        "ask",
        "--attach",
        str(pdf),
        "--password",
        "openpassword",
        "--dry-run",
        "--json",
        "Summarise",
    )
    assert proc.returncode == 0, proc.stderr
    assert "[page 1]" in json.loads(proc.stdout)["prompt"]


def test_models_lists_the_starter(home: Path) -> None:
    proc = run(home, "models", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert any(
        r["name"] == "Gemma 3 270M starter (base model, for trying the app offline)" for r in rows
    )


def test_a_closed_pipe_ends_quietly(home: Path) -> None:
    """`gemma-desktop ask ... | head -c5`: no traceback when the reader goes away."""
    env = {k: v for k, v in os.environ.items() if k != "GEMMA_DESKTOP_HOME"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gemma_desktop",
            "ask",
            "--basedir",
            str(home),
            "--max-tokens",
            "400",
            "Tell a long story.",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(5)
    proc.stdout.close()
    proc.wait(120)
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert "Traceback" not in err, err
    assert proc.returncode in (0, 141)
