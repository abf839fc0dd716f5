"""The inference engine: one thread owns the llama_cpp.Llama; load, stream a turn, stop, count."""

from __future__ import annotations

import codecs
import ctypes
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from gemma_desktop.core.chat import ChatMessage, GenerationResult, SamplingParams
from gemma_desktop.core.errors import (
    ContextOverflowError,
    ModelLoadError,
    NoModelLoadedError,
)
from gemma_desktop.core.prompt import PromptFormat, RenderedPrompt, TokenTexts, choose_format
from gemma_desktop.core.sampling import defaults_from_gguf

log = logging.getLogger(__name__)

T = TypeVar("T")
TokenCallback = Callable[[str], None]
ProgressCallback = Callable[[int, int], None]

DEFAULT_N_BATCH = 512
# llama.cpp's "random seed" value.
RANDOM_SEED = 0xFFFFFFFF


class GenerationCancelled(Exception):
    """Raised inside the engine thread when Stop interrupts llama.cpp."""


def _is_abort(exc: RuntimeError) -> bool:
    """True for llama_decode's 'aborted by the callback' failure (code 2), not real errors."""
    return str(exc).rstrip().endswith("returned 2")


@dataclass(frozen=True)
class ModelInfo:
    """What is loaded and with which settings."""

    path: Path
    name: str
    architecture: str
    n_ctx: int
    n_ctx_train: int
    n_threads: int
    n_batch: int
    n_ubatch: int
    swa_full: bool
    prompt_format: str
    sampling: SamplingParams
    load_s: float
    stop_token_ids: frozenset[int] = field(default_factory=frozenset)


_llama_log_callback: Any = None
_llama_log = logging.getLogger("llama.cpp")


def _route_llama_logs() -> None:
    """Send llama.cpp's own messages to logging (the log file), not to the user's terminal."""
    global _llama_log_callback
    if _llama_log_callback is not None:
        return
    import llama_cpp

    # ggml_log_level: 1 debug, 2 info, 3 warn, 4 error, 5 continuation.
    levels = {2: logging.INFO, 3: logging.WARNING, 4: logging.ERROR}

    def forward(level: int, text: bytes, _data: Any) -> None:
        _llama_log.log(
            levels.get(level, logging.DEBUG), "%s", text.decode("utf-8", "replace").rstrip()
        )

    _llama_log_callback = llama_cpp.llama_log_callback(forward)
    llama_cpp.llama_log_set(_llama_log_callback, ctypes.c_void_p(0))


def physical_cores() -> int:
    """Physical CPU cores: llama.cpp decodes fastest with one thread per physical core."""
    try:
        import psutil

        count = psutil.cpu_count(logical=False)
    except ImportError:  # pragma: no cover - psutil is a dependency
        count = None
    if not count:
        import os

        count = max(1, (os.cpu_count() or 2) // 2)
    return int(count)


class Engine:
    """Owns llama.cpp on a single worker thread; all public methods are thread-safe.

    Every call that touches the model is queued to the worker and returns a Future, so the
    GUI thread never blocks on llama.cpp. `stop()` acts at once: it raises a flag read by
    llama.cpp's abort callback (during prompt processing) and by the token loop.
    """

    def __init__(self, n_threads: int | None = None, n_batch: int = DEFAULT_N_BATCH) -> None:
        self.n_threads = n_threads or physical_cores()
        self.n_batch = n_batch
        self._jobs: queue.Queue[tuple[Callable[[], Any], Future[Any]] | None] = queue.Queue()
        # Stop cancels every generation submitted so far, running or still queued: each job
        # has a sequence number and is cancelled when it is <= the last stopped one.
        self._seq_lock = threading.Lock()
        self._submitted = 0
        self._stopped_upto = 0
        self._active_seq = 0
        self._llm: Any = None
        self._format: PromptFormat | None = None
        self._info: ModelInfo | None = None
        self._abort_cb: Any = None
        self._busy = threading.Event()
        # Tokenizing only reads the vocabulary, so it runs beside generation (the context meter
        # stays live during a reply); the lock keeps a load or unload from swapping the model
        # out from under it.
        self._model_lock = threading.RLock()
        self._model_change: Future[Any] | None = None
        self._text_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama-tokenizer")
        self._thread = threading.Thread(target=self._run, name="llama-engine", daemon=True)
        self._thread.start()

    # ----- thread plumbing -------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                break
            fn, future = job
            if not future.set_running_or_notify_cancel():
                continue
            self._busy.set()
            try:
                future.set_result(fn())
            except BaseException as exc:  # delivered to whoever waits on the future
                future.set_exception(exc)
            finally:
                self._busy.clear()
        self._release()

    def _submit(self, fn: Callable[[], T]) -> Future[T]:
        if not self._thread.is_alive():
            raise RuntimeError("the engine has been shut down")
        future: Future[T] = Future()
        self._jobs.put((fn, future))
        return future

    def _submit_text(self, fn: Callable[[], T]) -> Future[T]:
        """Run a vocabulary-only job on the tokenizer thread, never behind a generation."""

        model_change = self._model_change

        def locked() -> T:
            # Keep call order with load/unload: count after a load sees the new model.
            if model_change is not None:
                wait([model_change])
            with self._model_lock:
                return fn()

        return self._text_pool.submit(locked)

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop current work, cancel queued jobs, free the model and end the worker threads."""
        self.stop()
        while True:
            try:
                queued = self._jobs.get_nowait()
            except queue.Empty:
                break
            if queued is not None:
                queued[1].cancel()
        self._text_pool.shutdown(wait=True, cancel_futures=True)
        if self._thread.is_alive():
            self._jobs.put(None)
            self._thread.join(timeout)

    @property
    def busy(self) -> bool:
        """True while a job runs on the engine thread."""
        return self._busy.is_set()

    @property
    def model(self) -> ModelInfo | None:
        """The loaded model, or None."""
        return self._info

    @property
    def prompt_format(self) -> PromptFormat | None:
        """How the loaded model's prompts are rendered."""
        return self._format

    def stop(self) -> None:
        """Stop the running generation within milliseconds, and any already queued."""
        with self._seq_lock:
            self._stopped_upto = self._submitted

    def _cancelled(self) -> bool:
        return 0 < self._active_seq <= self._stopped_upto

    # ----- loading ---------------------------------------------------------------------------

    def load(self, path: str | Path, n_ctx: int) -> Future[ModelInfo]:
        """Load a GGUF with an explicit context size (never llama-cpp-python's 512 default)."""

        def job() -> ModelInfo:
            with self._model_lock:
                return self._load(Path(path), n_ctx)

        self._model_change = self._submit(job)
        return self._model_change

    def unload(self) -> Future[None]:
        """Free the loaded model."""
        future = self._submit(self._release)
        self._model_change = future
        return future

    def _release(self) -> None:
        with self._model_lock:
            llm, self._llm = self._llm, None
            self._info = None
            self._format = None
        if llm is not None:
            close = getattr(llm, "close", None)
            if close is not None:
                close()
            del llm

    def _load(self, path: Path, n_ctx: int) -> ModelInfo:
        from gemma_desktop.core.gguf_file import inspect_gguf

        gguf = inspect_gguf(path)  # raises a clear ModelFileError for damaged files
        self._release()
        import llama_cpp

        _route_llama_logs()
        started = time.perf_counter()
        n_ctx_train = gguf.context_length or n_ctx
        n_ctx = max(256, min(int(n_ctx), n_ctx_train))
        try:
            llm = llama_cpp.Llama(
                model_path=str(path),
                n_ctx=n_ctx,
                n_batch=self.n_batch,
                n_ubatch=self.n_batch,
                n_threads=self.n_threads,
                n_threads_batch=self.n_threads,
                # Sliding-window layers keep only their window (10x less KV on Gemma 4);
                # prefix reuse is then guarded in _reusable_prefix.
                swa_full=False,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelLoadError(
                f"llama.cpp could not load {path.name}: {exc}",
                hint="The file may be for a newer llama.cpp or not enough memory is free; "
                "try a smaller model or context.",
            ) from exc
        self._llm = llm
        vocab = llama_cpp.llama_model_get_vocab(llm.model)
        self._vocab = vocab
        texts = TokenTexts(
            bos=self._token_text(llm.token_bos()), eos=self._token_text(llm.token_eos())
        )
        architecture = gguf.architecture or "unknown"
        self._format = choose_format(architecture, gguf.chat_template, texts)
        self._install_abort_callback()
        stop_ids = set()
        for text in self._format.stop_texts:
            ids = llm.tokenize(text.encode(), add_bos=False, special=True)
            if len(ids) == 1:
                stop_ids.add(ids[0])
        self._info = ModelInfo(
            path=path,
            name=gguf.name,
            architecture=architecture,
            n_ctx=llm.n_ctx(),
            n_ctx_train=n_ctx_train,
            n_threads=self.n_threads,
            n_batch=self.n_batch,
            n_ubatch=self.n_batch,
            swa_full=False,
            prompt_format=self._format.name,
            sampling=defaults_from_gguf(gguf.sampling),
            load_s=time.perf_counter() - started,
            stop_token_ids=frozenset(stop_ids),
        )
        log.info("loaded %s n_ctx=%d in %.2fs", path, n_ctx, self._info.load_s)
        return self._info

    def _install_abort_callback(self) -> None:
        import llama_cpp

        def should_abort(_data: Any) -> bool:
            return self._cancelled()

        # Keep a reference: llama.cpp calls it from C for the whole life of the context.
        self._abort_cb = llama_cpp.ggml_abort_callback(should_abort)
        llama_cpp.llama_set_abort_callback(self._llm.ctx, self._abort_cb, None)

    def _require(self) -> Any:
        if self._llm is None:
            raise NoModelLoadedError("No model is loaded.", hint="Choose a model first.")
        return self._llm

    # ----- tokens ----------------------------------------------------------------------------

    def _token_text(self, token: int) -> str:
        return self._piece(token, special=True).decode("utf-8", errors="replace")

    def _piece(self, token: int, *, special: bool) -> bytes:
        """One token's bytes; a growing buffer, because the stock one drops tokens > 32 bytes."""
        import llama_cpp

        size = 64
        while True:
            buffer = ctypes.create_string_buffer(size)
            n = llama_cpp.llama_token_to_piece(self._vocab, token, buffer, size, 0, special)
            if n >= 0:
                return buffer.raw[:n]
            size = -n + 8

    def _tokenize_plain(self, text: str) -> list[int]:
        return list(self._require().tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def _tokenize_prompt(self, prompt: RenderedPrompt) -> list[int]:
        """Tokens of a rendered prompt; control tokens only where the template put them."""
        llm = self._require()
        tokens: list[int] = []
        if prompt.add_bos:
            tokens.append(llm.token_bos())
        for segment in prompt.segments:
            tokens.extend(
                llm.tokenize(segment.text.encode("utf-8"), add_bos=False, special=segment.special)
            )
        return tokens

    def count_tokens(self, text: str) -> Future[int]:
        """Tokens the model needs for plain text (user or document text, no markup)."""
        return self._submit_text(lambda: len(self._tokenize_plain(text)))

    def render(self, messages: Sequence[ChatMessage]) -> Future[tuple[RenderedPrompt, int]]:
        """The exact prompt for these turns and its token count."""

        def job() -> tuple[RenderedPrompt, int]:
            self._require()
            assert self._format is not None
            rendered = self._format.render(messages)
            return rendered, len(self._tokenize_prompt(rendered))

        return self._submit_text(job)

    def detokenize(self, tokens: Sequence[int]) -> Future[str]:
        """Text of tokens, control tokens included (for inspection and tests)."""
        return self._submit_text(
            lambda: b"".join(self._piece(t, special=True) for t in tokens).decode(
                "utf-8", errors="replace"
            )
        )

    def tokenize_prompt(self, prompt: RenderedPrompt) -> Future[list[int]]:
        """Token ids of a rendered prompt."""
        return self._submit_text(lambda: self._tokenize_prompt(prompt))

    # ----- generation ------------------------------------------------------------------------

    def generate(
        self,
        messages: Sequence[ChatMessage] | RenderedPrompt,
        *,
        max_tokens: int = 1024,
        sampling: SamplingParams | None = None,
        on_token: TokenCallback | None = None,
        on_prompt_progress: ProgressCallback | None = None,
    ) -> Future[GenerationResult]:
        """Stream one model turn; `on_token` gets text pieces on the engine thread."""
        with self._seq_lock:
            self._submitted += 1
            seq = self._submitted

        def job() -> GenerationResult:
            self._active_seq = seq
            try:
                if self._cancelled():  # stopped while it waited in the queue
                    return GenerationResult(
                        text="", finish_reason="cancelled", prompt_tokens=0, completion_tokens=0
                    )
                return self._generate(messages, max_tokens, sampling, on_token, on_prompt_progress)
            finally:
                self._active_seq = 0

        return self._submit(job)

    def _reusable_prefix(self, tokens: Sequence[int]) -> int:
        """How many cached tokens can be kept: the common prefix, if the SWA cache still has it.

        With swa_full=False, sliding-window layers keep only the most recent positions.
        Continuing at k needs the window before k in the cache; reusing without it gives
        silently wrong logits (measured). The rule is llama.cpp server's: the cache's oldest
        position must be <= k - n_swa. (With n_swa == n_ubatch, as on the starter, this is the
        rule engine-notes states; Gemma 4 26B/31B have a 1,024 window and 512 batches.)
        """
        import llama_cpp

        llm = self._llm
        cached = llm.n_tokens
        if cached == 0:
            return 0
        previous = llm.input_ids[:cached]
        limit = min(cached, len(tokens))
        k = 0
        while k < limit and previous[k] == tokens[k]:
            k += 1
        if k == len(tokens):
            k -= 1  # the last prompt token must be evaluated again to get fresh logits
        if k <= 0:
            return 0
        memory = llama_cpp.llama_get_memory(llm.ctx)
        pos_min = llama_cpp.llama_memory_seq_pos_min(memory, 0)
        n_swa = llama_cpp.llama_model_n_swa(llm.model)
        if n_swa > 0 and pos_min > max(0, k - n_swa):
            log.debug("prefix reuse refused: k=%d pos_min=%d", k, pos_min)
            return 0
        return k

    def _generate(
        self,
        messages: Sequence[ChatMessage] | RenderedPrompt,
        max_tokens: int,
        sampling: SamplingParams | None,
        on_token: TokenCallback | None,
        on_progress: ProgressCallback | None,
    ) -> GenerationResult:
        import llama_cpp

        llm = self._require()
        assert self._format is not None and self._info is not None
        started = time.perf_counter()
        rendered = (
            messages if isinstance(messages, RenderedPrompt) else self._format.render(messages)
        )
        tokens = self._tokenize_prompt(rendered)
        n_ctx = self._info.n_ctx
        if len(tokens) >= n_ctx:
            raise ContextOverflowError(
                f"The prompt needs {len(tokens):,} tokens but the context window holds {n_ctx:,}.",
                hint="Remove attachments, start a new conversation, or load the model with a "
                "larger context.",
                needed=len(tokens),
                n_ctx=n_ctx,
            )
        params = sampling or self._info.sampling
        budget = max(0, min(max_tokens, n_ctx - len(tokens)))

        reused = self._reusable_prefix(tokens)
        if reused == 0:
            llm.reset()
        else:
            llm.n_tokens = reused
        pending = tokens[reused:]
        result = GenerationResult(
            text="",
            finish_reason="stop",
            prompt_tokens=len(tokens),
            completion_tokens=0,
            reused_tokens=reused,
        )
        try:
            for start in range(0, len(pending), self.n_batch):
                if self._cancelled():
                    raise GenerationCancelled
                llm.eval(pending[start : start + self.n_batch])
                if on_progress is not None:
                    on_progress(min(start + self.n_batch, len(pending)), len(pending))
        except (GenerationCancelled, RuntimeError) as exc:
            if not (isinstance(exc, GenerationCancelled) or _is_abort(exc)):
                raise
            log.debug("prompt processing stopped: %s", exc)
            result.finish_reason = "cancelled"
            result.prompt_eval_s = time.perf_counter() - started
            return result
        prompt_done = time.perf_counter()
        result.prompt_eval_s = prompt_done - started

        llm.set_seed(params.seed if params.seed is not None else RANDOM_SEED)
        sampler = llm._init_sampler(
            top_k=params.top_k,
            top_p=params.top_p,
            min_p=params.min_p,
            temp=params.temperature,
            repeat_penalty=params.repeat_penalty,
        )
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        pieces: list[str] = []
        stop_ids = self._info.stop_token_ids
        first_at = last_at = 0.0
        finish = "length"
        vocab = self._vocab
        try:
            for _ in range(budget):
                if self._cancelled():
                    finish = "cancelled"
                    break
                token = sampler.sample(llm._ctx, -1)
                if llama_cpp.llama_vocab_is_eog(vocab, token) or token in stop_ids:
                    finish = "stop"
                    break
                result.completion_tokens += 1
                result.token_ids.append(token)
                last_at = time.perf_counter()
                if result.completion_tokens == 1:
                    first_at = last_at
                control = llama_cpp.llama_vocab_is_control(vocab, token)
                text = "" if control else decoder.decode(self._piece(token, special=False))
                if text:
                    pieces.append(text)
                    if on_token is not None:
                        on_token(text)
                llm.eval([token])
        except RuntimeError as exc:
            if not _is_abort(exc):
                raise
            finish = "cancelled"
        if finish == "length":
            result.length_limit = "context" if budget < max_tokens else "max_tokens"
        tail = decoder.decode(b"", final=True)
        if tail:
            pieces.append(tail)
            if on_token is not None:
                on_token(tail)
        result.text = "".join(pieces)
        result.finish_reason = finish  # type: ignore[assignment]
        if result.completion_tokens:
            result.ttft_s = first_at - started
            if result.completion_tokens > 1 and last_at > first_at:
                result.decode_tokens_per_s = (result.completion_tokens - 1) / (last_at - first_at)
        return result
