"""Headless commands on the same core as the window: ask and models."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from gemma_desktop.core.errors import PasswordRequiredError, UserError

DEFAULT_CTX = 8192
DEFAULT_MAX_TOKENS = 1024
# Exit status when the model was still thinking and wrote no answer.
NO_ANSWER = 3


def _add_common(parser: argparse.ArgumentParser, *, top: bool) -> None:
    # SUPPRESS keeps a subcommand's missing --basedir from overwriting the top-level one.
    parser.add_argument(
        "--basedir",
        metavar="DIR",
        default=None if top else argparse.SUPPRESS,
        help="data folder (default: $GEMMA_DESKTOP_HOME or the OS data folder)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The command line: no command opens the window."""
    parser = argparse.ArgumentParser(
        prog="gemma-desktop",
        description="Chat with local Gemma models about your documents, offline.",
    )
    _add_common(parser, top=True)
    parser.add_argument(
        "--theme",
        choices=("system", "light", "dark"),
        default="system",
        help="window colours (default: follow the system)",
    )
    parser.add_argument("--ready-file", metavar="PATH", help=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    ask = commands.add_parser("ask", help="answer one prompt and stream it to stdout")
    _add_common(ask, top=False)
    ask.add_argument("prompt", metavar="PROMPT", help="the question or instruction")
    ask.add_argument("--model", metavar="NAME_OR_PATH", help="installed model name or a GGUF path")
    ask.add_argument(
        "--attach", metavar="FILE", action="append", default=[], help="a PDF or text file"
    )
    ask.add_argument("--password", metavar="TEXT", help="password for encrypted PDFs")
    ask.add_argument("--system", metavar="TEXT", default="", help="system prompt")
    ask.add_argument("--max-tokens", type=int, default=DEFAULT_MAX_TOKENS, metavar="N")
    ask.add_argument(
        "--ctx",
        type=int,
        default=DEFAULT_CTX,
        metavar="N",
        help=f"context window in tokens (default {DEFAULT_CTX}, capped at the model's maximum)",
    )
    ask.add_argument("--temperature", type=float, default=None, metavar="T")
    ask.add_argument("--seed", type=int, default=None, metavar="N")
    ask.add_argument(
        "--think",
        action="store_true",
        help="let the model reason first (Gemma 4); the thinking goes to stderr",
    )
    ask.add_argument(
        "--keep-repeats",
        action="store_true",
        help="do not stop a reply that keeps repeating itself (stopped by default)",
    )
    ask.add_argument("--json", action="store_true", help="print one JSON object at the end")
    ask.add_argument(
        "--dry-run", action="store_true", help="print the exact prompt and its token count only"
    )

    doctor = commands.add_parser(
        "doctor", help="check this machine and say which Gemma 4 model fits it"
    )
    _add_common(doctor, top=False)
    doctor.add_argument("--json", action="store_true")

    fit = commands.add_parser("fit", help="the memory a catalog model needs on this machine")
    _add_common(fit, top=False)
    fit.add_argument("model", metavar="MODEL", help="catalog model, e.g. gemma-4-e4b or 31b")
    fit.add_argument("--quant", metavar="Q", help="quantisation (default: the first listed)")
    fit.add_argument("--ctx", type=int, metavar="N", help="context size (default: the largest "
                     "that fits, else the model's maximum)")
    fit.add_argument("--cache-type", choices=("f16", "q8_0", "q4_0"), default="f16")
    fit.add_argument("--mmproj", action="store_true", help="include the vision projector")
    fit.add_argument("--json", action="store_true")

    pull = commands.add_parser(
        "pull", help="download a catalog model (or any GGUF on Hugging Face), resumable"
    )
    _add_common(pull, top=False)
    pull.add_argument("model", metavar="MODEL", nargs="?", help="catalog model, e.g. gemma-4-e4b")
    pull.add_argument("--quant", metavar="Q", help="quantisation (default: the first listed)")
    pull.add_argument("--repo", metavar="REPO", help="a Hugging Face repository instead")
    pull.add_argument("--file", metavar="FILE", help="the GGUF file in --repo")
    pull.add_argument("--mmproj", metavar="FILE",
                      help="with --repo: the vision projector GGUF to download with it")
    pull.add_argument("--no-mmproj", action="store_true",
                      help="skip a catalog model's vision projector (no image input)")
    pull.add_argument(
        "--token-stdin",
        action="store_true",
        help="read a Hugging Face token for gated repos from standard input (kept in the "
        "system keyring when there is one)",
    )

    models = commands.add_parser("models", help="list the installed models")
    _add_common(models, top=False)
    models.add_argument("--json", action="store_true")
    return parser


def run_command(args: argparse.Namespace) -> int:
    """Run a parsed command; a UserError becomes one line on stderr and exit code 2."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # llama.cpp warns about settings we chose on purpose (e.g. n_ctx below the trained size).
    logging.getLogger("llama.cpp").setLevel(logging.ERROR)
    try:
        if args.command == "ask":
            return _ask(args)
        if args.command == "models":
            return _models(args)
        if args.command == "doctor":
            return _doctor(args)
        if args.command == "fit":
            return _fit(args)
        if args.command == "pull":
            return _pull(args)
    except PasswordRequiredError as exc:
        action = "Check the value of --password." if exc.wrong else "Give it with --password."
        print(f"gemma-desktop: error: {exc.message} {action}", file=sys.stderr)
        return 2
    except UserError as exc:
        print(f"gemma-desktop: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gemma-desktop: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, like other command-line tools.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    raise AssertionError(f"unknown command {args.command}")


def _validate_numbers(args: argparse.Namespace) -> None:
    if args.max_tokens < 1:
        raise UserError("--max-tokens must be at least 1.")
    if args.ctx < 256:
        raise UserError("--ctx must be at least 256 tokens.")
    if not args.prompt.strip() and not args.attach:
        raise UserError("The prompt is empty.", hint='Give a question, e.g. gemma-desktop ask "…".')


def _ask(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from gemma_desktop.core.conversation import (
        StoredTurn,
        TurnAttachment,
        build_messages,
        check_fit,
    )
    from gemma_desktop.core.documents.loader import load_document
    from gemma_desktop.core.documents.render import render_document
    from gemma_desktop.core.engine import Engine
    from gemma_desktop.core.models import ModelRegistry
    from gemma_desktop.core.paths import resolve_paths

    _validate_numbers(args)
    paths = resolve_paths(args.basedir).ensure()
    registry = ModelRegistry(paths)
    entry = registry.resolve(args.model) if args.model else registry.default_model()
    documents = [load_document(Path(p), password=args.password) for p in args.attach]

    engine = Engine()
    try:
        info = engine.load(entry.path, args.ctx).result()
        attachments: list[TurnAttachment] = []
        reports: list[dict[str, Any]] = []
        for doc in documents:
            tokens = engine.count_tokens(render_document(doc)).result()
            attachments.append(TurnAttachment(doc.name, doc.kind, doc.pages, doc.text, tokens))
            reports.append(
                {
                    "path": str(doc.path),
                    "kind": doc.kind,
                    "pages": doc.pages,
                    "tokens": tokens,
                    "warnings": list(doc.warnings),
                }
            )
            for warning in doc.warnings:
                print(f"gemma-desktop: {doc.name}: {warning}", file=sys.stderr)
        messages = build_messages(
            args.system, [StoredTurn("user", args.prompt, tuple(attachments))]
        )
        if args.think and not info.supports_thinking:
            raise UserError(
                f"{info.name} has no thinking mode: its chat template has no thinking switch.",
                hint="Use a Gemma 4 model (or another reasoning GGUF), or leave out --think.",
            )
        rendered, prompt_tokens = engine.render(messages, thinking=args.think).result()
        if args.dry_run:
            if args.json:
                print(
                    json.dumps(
                        {
                            "model": info.name,
                            "n_ctx": info.n_ctx,
                            "prompt": rendered.text,
                            "prompt_tokens": prompt_tokens,
                            "prompt_format": rendered.format_name,
                            "attachments": reports,
                        },
                        ensure_ascii=False,
                    )
                )
            else:
                sys.stdout.write(rendered.text)
                sys.stdout.flush()
                print(
                    f"\n[{prompt_tokens} tokens, format {rendered.format_name}, "
                    f"n_ctx {info.n_ctx}]",
                    file=sys.stderr,
                )
            return 0
        check_fit(
            prompt_tokens,
            info.n_ctx,
            args.max_tokens,
            {a.name: a.tokens for a in attachments},
            n_ctx_max=info.n_ctx_train,
        )
        sampling = info.sampling
        if args.temperature is not None:
            sampling = replace(sampling, temperature=args.temperature)
        if args.seed is not None:
            sampling = replace(sampling, seed=args.seed)

        thought_shown = [False]
        # On a terminal the thought is dimmed and labelled, so it reads apart from the answer.
        dim, plain = ("\x1b[2m", "\x1b[0m") if sys.stderr.isatty() else ("", "")

        def end_thought() -> None:
            if thought_shown[0]:
                sys.stderr.write(f"{plain}\n")
                sys.stderr.flush()
                thought_shown[0] = False

        def write(piece: str) -> None:
            end_thought()
            sys.stdout.write(piece)
            sys.stdout.flush()

        def write_thought(piece: str) -> None:
            if not thought_shown[0]:
                sys.stderr.write(f"{dim}Thinking: " if dim else "")
                thought_shown[0] = True
            sys.stderr.write(piece)
            sys.stderr.flush()

        started = time.perf_counter()
        future = engine.generate(
            rendered,
            max_tokens=args.max_tokens,
            sampling=sampling,
            on_token=None if args.json else write,
            on_thinking=write_thought if args.think and not args.json else None,
            stop_on_repetition=not args.keep_repeats,
        )
        try:
            result = future.result()
        except KeyboardInterrupt:
            engine.stop()
            result = future.result()
        if args.json:
            print(
                json.dumps(
                    {
                        "model": info.name,
                        "model_path": str(info.path),
                        "n_ctx": info.n_ctx,
                        "prompt_tokens": result.prompt_tokens,
                        "completion_tokens": result.completion_tokens,
                        "ttft_s": round(result.ttft_s, 4),
                        "decode_tokens_per_s": round(result.decode_tokens_per_s, 2),
                        "prompt_eval_s": round(result.prompt_eval_s, 4),
                        "total_s": round(time.perf_counter() - started, 4),
                        "finish_reason": result.finish_reason,
                        "length_limit": result.length_limit or None,
                        "answer": result.text,
                        "thinking": result.thinking,
                        "thinking_tokens": result.thinking_tokens,
                        "thinking_complete": result.thinking_complete,
                        "repeated": result.repeated or None,
                        "attachments": reports,
                    },
                    ensure_ascii=False,
                )
            )
        else:
            end_thought()
            sys.stdout.write("\n")
            sys.stdout.flush()
            note = _finish_note(result, args.max_tokens, info.n_ctx)
            if note:
                print(f"gemma-desktop: {note}", file=sys.stderr)
        # Scripts can tell "thought but never answered" apart from an answer.
        return NO_ANSWER if not result.thinking_complete and not result.answered else 0
    finally:
        engine.shutdown()


def _finish_note(result: Any, max_tokens: int, n_ctx: int) -> str:
    """Why a reply ended early, in command-line terms ("" when it simply ended)."""
    if result.finish_reason == "repetition":
        return (
            f"stopped: the model kept repeating “{result.repeated}”; run again, perhaps with "
            "a higher --temperature (or --keep-repeats if the repetition was wanted)"
        )
    no_answer = not result.thinking_complete and not result.answered
    if result.finish_reason == "length" and no_answer:
        where = (
            f"the context window ({n_ctx:,} tokens) filled up; use a larger --ctx"
            if result.length_limit == "context"
            else f"--max-tokens {max_tokens:,} was reached; run again with a larger "
            f"--max-tokens (e.g. {max_tokens * 4:,})"
        )
        return f"no answer: the model was still thinking when {where}"
    if result.finish_reason == "stop" and no_answer:
        return "no answer: the model ended its turn while still thinking; run it again"
    if result.length_limit == "context":
        return f"stopped: the context window ({n_ctx:,} tokens) is full; use a larger --ctx"
    if result.finish_reason == "length":
        return f"stopped at --max-tokens {max_tokens}"
    return ""


def _gib(value: int | None) -> str:
    return "?" if value is None else f"{value / (1 << 30):.1f} GiB"


def _doctor(args: argparse.Namespace) -> int:
    from gemma_desktop.core.catalog import load_catalog
    from gemma_desktop.core.fit import recommend
    from gemma_desktop.core.hardware import probe
    from gemma_desktop.core.paths import resolve_paths

    paths = resolve_paths(args.basedir).ensure()
    hardware = probe(paths.models)
    choice = recommend(load_catalog(), hardware)
    if args.json:
        data: dict[str, Any] = {"hardware": hardware.to_dict(), "recommendation": None}
        if choice is not None:
            data["recommendation"] = {
                "model": choice.model.id, "quant": choice.file.quant, "n_ctx": choice.n_ctx,
                "reason": choice.reason, "estimate": choice.estimate.to_dict(),
            }
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    gpus = ", ".join(f"{g.name} ({_gib(g.total_bytes)})" for g in hardware.gpus) or "none"
    print(f"CPU      {hardware.cpu_name} · {hardware.physical_cores} cores "
          f"({', '.join(hardware.cpu_features) or 'no AVX/NEON found'})")
    print(f"Memory   {_gib(hardware.total_ram)} total, {_gib(hardware.available_ram)} available")
    print(f"GPU      {gpus}; GPU offload in this build: {'yes' if hardware.gpu_offload else 'no'}")
    print(f"Disk     {_gib(hardware.disk_free)} free in {paths.models}")
    for note in hardware.notes:
        print(f"Note     {note}")
    if choice is None:
        print("Fit      No Gemma 4 model fits in the memory available; the starter still works.")
    else:
        print(f"Fit      {choice.reason}")
        for note in choice.estimate.notes:
            print(f"Note     {note}")
    return 0


def _fit(args: argparse.Namespace) -> int:
    from gemma_desktop.core.catalog import find_model
    from gemma_desktop.core.fit import estimate, largest_context
    from gemma_desktop.core.hardware import probe

    model = find_model(args.model)
    file = model.file(args.quant)
    hardware = probe(check_offload=True)
    if args.ctx is not None and args.ctx < 256:
        raise UserError("--ctx must be at least 256 tokens.")
    n_ctx = args.ctx or largest_context(model, file, hardware, args.cache_type)
    result = estimate(model, file, n_ctx or model.max_context, cache_type=args.cache_type,
                      with_mmproj=args.mmproj, hardware=hardware)
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return 0
    verdict = "fits" if result.fits else "does NOT fit"
    print(f"{model.name} {file.quant} at {result.n_ctx:,} tokens ({result.cache_type} cache): "
          f"{verdict} in {_gib(result.budget_bytes)} available")
    for label, value in (("weights", result.weights_bytes), ("KV cache", result.kv_bytes),
                         ("vision projector", result.mmproj_bytes),
                         ("compute buffers", result.overhead_bytes),
                         ("total", result.total_bytes)):
        print(f"  {label:<17} {_gib(value):>10}")
    print(f"  GPU layers        {result.n_gpu_layers:>10}")
    for note in result.notes:
        print(f"Note: {note}")
    return 0


def _pull(args: argparse.Namespace) -> int:
    import threading

    from gemma_desktop.core.catalog import find_model
    from gemma_desktop.core.download import DownloadCancelled, default_endpoint, safe_target
    from gemma_desktop.core.hub import download_from_hub
    from gemma_desktop.core.models import ModelRegistry
    from gemma_desktop.core.paths import resolve_paths

    if args.repo or args.file:
        if not (args.repo and args.file) or args.model:
            raise UserError("Give --repo and --file together (and no MODEL).",
                            hint="e.g. pull --repo unsloth/gemma-4-E4B-it-GGUF --file NAME.gguf")
        repo, filename, size = args.repo, args.file, None
        projector, projector_size = args.mmproj, None
    elif args.model:
        model = find_model(args.model)
        chosen = model.file(args.quant)
        if chosen.bundled:
            raise UserError("The starter is installed with the app; there is nothing to pull.")
        repo, filename = chosen.repo, chosen.file
        size = None if chosen.approximate else chosen.size
        if args.mmproj:
            raise UserError("--mmproj goes with --repo and --file; catalog models bring their own.",
                            hint="Leave it out, or use --no-mmproj to skip the vision projector.")
        projector = None if args.no_mmproj else chosen.mmproj_file
        projector_size = chosen.mmproj_size or None
    else:
        raise UserError("Say what to pull.", hint="e.g. gemma-desktop pull gemma-4-e4b")
    from gemma_desktop.core.secrets import TokenStore

    tokens = TokenStore()
    if args.token_stdin:
        # Not an argument: it would be kept in the shell's history and visible in `ps`.
        status = tokens.set(sys.stdin.readline())
        print(f"gemma-desktop: token: {status.message}", file=sys.stderr)
    paths = resolve_paths(args.basedir).ensure()
    target = safe_target(paths.models, filename)
    cancel = threading.Event()
    shown = [0.0]
    files = [(filename, target, size)]
    if projector:
        files.append((projector, safe_target(paths.models, projector), projector_size))
    for name, path, expected in files:
        shown[0] = 0.0
        try:
            # A private HF_HOME: huggingface_hub then reads no token or settings of other tools.
            download_from_hub(repo, name, path, endpoint=default_endpoint(),
                              token=tokens.get(), expected_size=expected,
                              progress=_pull_report(name, shown), cancel=cancel,
                              hf_home=paths.cache / "huggingface")
        except (KeyboardInterrupt, DownloadCancelled):
            cancel.set()
            print(f"\ngemma-desktop: paused; run the same command again to resume from "
                  f"{path.name}.part", file=sys.stderr)
            return 130
        sys.stderr.write("\n")
    mmproj = files[1][1] if len(files) > 1 else None
    entry = ModelRegistry(paths).add_local(target, mmproj=mmproj)
    with_vision = f" with its vision projector {mmproj.name}" if mmproj else ""
    print(f"Ready: {entry.display_name} ({target}){with_vision}")
    return 0


def _pull_report(filename: str, shown: list[float]) -> Any:
    """A progress callback drawing one line on stderr, at most five times a second."""

    def report(p: Any) -> None:
        now = time.monotonic()
        if now - shown[0] < 0.2 and p.done < p.total:
            return
        shown[0] = now
        eta = f"  {int(p.eta_s) // 60}:{int(p.eta_s) % 60:02d} left" if p.eta_s else ""
        sys.stderr.write(f"\r{filename}: {p.done / 1e6:,.1f} / {p.total / 1e6:,.1f} MB  "
                         f"{p.bytes_per_s / 1e6:.1f} MB/s{eta}   ")
        sys.stderr.flush()

    return report


def _models(args: argparse.Namespace) -> int:
    from gemma_desktop.core.models import ModelRegistry
    from gemma_desktop.core.paths import resolve_paths

    paths = resolve_paths(args.basedir).ensure()
    registry = ModelRegistry(paths)
    entries = registry.list()
    rows = [
        {
            "id": e.id,
            "name": e.display_name,
            "path": str(e.path),
            "source": e.source,
            "size_bytes": e.size_bytes,
            "context_length": e.context_length,
            "quantization": e.quantization,
            "available": e.available,
        }
        for e in entries
    ]
    starter_listed = any(e.source == "starter" for e in entries)
    if not starter_listed and registry.starter_available():
        rows.append(
            {
                "id": "gemma-3-270m-starter",
                "name": "Gemma 3 270M starter (base model, for trying the app offline)",
                "path": None,
                "source": "starter",
                "size_bytes": None,
                "context_length": 32768,
                "quantization": "Q4_K_M",
                "available": True,
                "note": "assembled on first use",
            }
        )
    default = registry.default_id()
    for row in rows:
        row["default"] = row["id"] == default
    catalog = _catalog_rows({Path(e.path).name for e in entries if e.available}, paths.models)
    if args.json:
        print(json.dumps(rows + catalog, ensure_ascii=False, indent=2))
        return 0
    if not rows:
        print("No models installed. Open a GGUF in the app, or run with --model PATH.")
    for row in rows:
        size = f"{row['size_bytes'] / 1e6:,.0f} MB" if row["size_bytes"] else "-"
        state = "" if row["available"] else "  [file missing]"
        note = f"  ({row['note']})" if row.get("note") else ""
        if row["default"]:
            note += "  [default]"
        print(f"{row['id']:<32} {size:>10}  {row['name']}{state}{note}")
    print("\nGemma 4 catalog (fit on this machine at the largest context that fits):")
    for row in catalog:
        fit = row["fit"]
        verdict = (f"fits, {fit['n_ctx']:,} tokens" if fit["fits"]
                   else f"does not fit ({fit['total_bytes'] / (1 << 30):.1f} GiB needed)")
        installed = "  [installed]" if row["installed"] else ""
        print(f"{row['id']:<32} {row['size_bytes'] / 1e9:>7.1f} GB  {row['name']}: "
              f"{verdict}{installed}")
    return 0


def _catalog_rows(installed_names: set[str], models_dir: Path) -> list[dict[str, Any]]:
    """One row per catalog file: installed or not, and whether it fits this machine."""
    from gemma_desktop.core.catalog import load_catalog
    from gemma_desktop.core.fit import estimate, largest_context
    from gemma_desktop.core.hardware import probe

    hardware = probe(models_dir, check_offload=False)
    rows: list[dict[str, Any]] = []
    for model in load_catalog():
        if model.rung == "starter":
            continue
        for file in model.files:
            n_ctx = largest_context(model, file, hardware) or 32768
            fit = estimate(model, file, n_ctx, hardware=hardware)
            rows.append({
                "id": f"{model.id}:{file.quant}",
                "name": f"{model.name} {file.quant}",
                "path": None,
                "source": "catalog",
                "repo": file.repo,
                "file": file.file,
                "size_bytes": file.size,
                "size_approximate": file.approximate,
                "context_length": model.max_context,
                "quantization": file.quant,
                "capabilities": list(model.capabilities),
                "available": file.file in installed_names,
                "installed": file.file in installed_names,
                "default": False,
                "fit": fit.to_dict(),
            })
    return rows
