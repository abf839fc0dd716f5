"""Decode speed through the app's Engine versus bare llama-cpp-python, measured alternately."""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from _common import starter_path, summary

from gemma_desktop.core.chat import ChatMessage, SamplingParams
from gemma_desktop.core.engine import Engine, physical_cores

PROMPT = "Write a long, detailed story about a lighthouse keeper and the sea."


def bare_run(llm, tokens: list[int], n: int, seed: int) -> float:  # type: ignore[no-untyped-def]
    """Decode tokens/s of llama-cpp-python's own generate loop (first token excluded)."""
    llm.reset()
    llm.set_seed(seed)
    times: list[float] = []
    for token in llm.generate(
        tokens, top_k=64, top_p=0.95, min_p=0.0, temp=1.0, repeat_penalty=1.0, reset=True
    ):
        llm.detokenize([token])
        times.append(time.perf_counter())
        if len(times) >= n or token == llm.token_eos():
            break
    return (len(times) - 1) / (times[-1] - times[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    import llama_cpp

    model = starter_path()
    threads = physical_cores()
    engine = Engine(n_threads=threads)
    engine.load(model, 8192).result()
    llm = llama_cpp.Llama(
        model_path=str(model),
        n_ctx=8192,
        n_batch=512,
        n_ubatch=512,
        n_threads=threads,
        n_threads_batch=threads,
        swa_full=False,
        verbose=False,
    )
    rendered, _ = engine.render([ChatMessage("user", PROMPT)]).result()
    tokens = engine.tokenize_prompt(rendered).result()
    app_rates: list[float] = []
    bare_rates: list[float] = []
    for round_ in range(args.rounds):
        seed = 1000 + round_
        sampling = SamplingParams(seed=seed)
        # Alternate which goes first so drift on a noisy machine hits both alike.
        order = ("app", "bare") if round_ % 2 == 0 else ("bare", "app")
        for which in order:
            if which == "app":
                result = engine.generate(
                    rendered, max_tokens=args.tokens, sampling=sampling
                ).result()
                app_rates.append(result.decode_tokens_per_s)
            else:
                bare_rates.append(bare_run(llm, tokens, args.tokens, seed))
    engine.shutdown()
    ratios = [a / b for a, b in zip(app_rates, bare_rates, strict=True)]
    print(f"model {model.name}, {threads} threads, {args.tokens} tokens, {args.rounds} rounds")
    print(summary("app engine", app_rates, "tok/s"))
    print(summary("bare llama-cpp-python", bare_rates, "tok/s"))
    ratio = statistics.median(app_rates) / statistics.median(bare_rates)
    print(
        f"ratio app/bare (medians): {ratio:.3f}  per-round: "
        + ", ".join(f"{r:.3f}" for r in ratios)
        + "  target >= 0.97"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
