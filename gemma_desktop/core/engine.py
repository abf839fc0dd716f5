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

from gemma_desktop.core.chat import ChatMessage, Continuation, GenerationResult, SamplingParams
from gemma_desktop.core.errors import (
    ContextOverflowError,
    ModelLoadError,
    NoModelLoadedError,
)
from gemma_desktop.core.prompt import (
    PromptFormat,
    PromptSegment,
    RenderedPrompt,
    TokenTexts,
    choose_format,
    prompt_opens_thought,
)
from gemma_desktop.core.repetition import RepetitionDetector, describe_loop
from gemma_desktop.core.sampling import defaults_from_gguf
from gemma_desktop.core.thinking import DEFAULT_MARKERS, ThinkingMarkers, ThinkingParser

log = logging.getLogger(__name__)

T = TypeVar("T")
TokenCallback = Callable[[str], None]
ProgressCallback = Callable[[int, int], None]

DEFAULT_N_BATCH = 512
# Private-use characters stand for marker control tokens in the parser's input.
_MARKER_BASE = 0xF0100
_NO_MARKER_CHARS = {_MARKER_BASE + i: None for i in range(16)}
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
    # The chat template has a thinking switch (Gemma 4's <|think|>, or `enable_thinking`).
    supports_thinking: bool = False


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
        # Thought markers this model writes: control-token ids spelled for the parser, and
        # each marker pair as the vocabulary writes it with the spelling the parser sees.
        self._marker_ids: dict[int, str] = {}
        self._marker_pairs: tuple[tuple[ThinkingMarkers, ThinkingMarkers], ...] = ()
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
        self._find_markers()
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
            supports_thinking=self._format.supports_thinking,
        )
        log.info("loaded %s n_ctx=%d in %.2fs", path, n_ctx, self._info.load_s)
        return self._info

    def _control_token(self, text: str) -> int | None:
        """The id of `text` when it is a single control token in this vocabulary."""
        import llama_cpp

        ids = self._llm.tokenize(text.encode(), add_bos=False, special=True)
        if len(ids) == 1 and llama_cpp.llama_vocab_is_control(self._vocab, ids[0]):
            return int(ids[0])
        return None

    def _find_markers(self) -> None:
        """Which thought markers this model writes, and how the parser will see them.

        Markers that are control tokens (Gemma 4's <|channel>/<channel|>) reach the parser as
        private-use characters, so the same characters written as plain text by the model
        (an answer about "<think>") never count. Markers that are not control tokens are
        used as text only when the model's template speaks them.
        """
        assert self._format is not None
        marker_ids: dict[int, str] = {}
        pairs: list[tuple[ThinkingMarkers, ThinkingMarkers]] = []
        for index, real in enumerate(DEFAULT_MARKERS):
            open_id, close_id = self._control_token(real.open), self._control_token(real.close)
            if open_id is not None and close_id is not None:
                spelled = ThinkingMarkers(
                    chr(_MARKER_BASE + 2 * index), chr(_MARKER_BASE + 2 * index + 1), real.label
                )
                marker_ids[open_id], marker_ids[close_id] = spelled.open, spelled.close
                pairs.append((real, spelled))
            elif self._format.thought_markers == real:
                pairs.append((real, real))
        self._marker_ids = marker_ids
        self._marker_pairs = tuple(pairs)

    def _pair(self, markers: ThinkingMarkers | None) -> tuple[ThinkingMarkers, ThinkingMarkers]:
        """(as written, as the parser sees it) for markers given either way."""
        for real, spelled in self._marker_pairs:
            if markers in (real, spelled):
                return real, spelled
        assert markers is not None
        return markers, markers

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

    def render(
        self, messages: Sequence[ChatMessage], *, thinking: bool = False
    ) -> Future[tuple[RenderedPrompt, int]]:
        """The exact prompt for these turns and its token count."""

        def job() -> tuple[RenderedPrompt, int]:
            self._require()
            assert self._format is not None
            rendered = self._format.render(messages, thinking=thinking)
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
        thinking: bool = False,
        continuation: Continuation | None = None,
        on_token: TokenCallback | None = None,
        on_thinking: TokenCallback | None = None,
        on_prompt_progress: ProgressCallback | None = None,
        stop_on_repetition: bool = True,
        on_thought_tokens: Callable[[int], None] | None = None,
    ) -> Future[GenerationResult]:
        """Stream one model turn on the engine thread.

        `on_token` gets answer pieces and `on_thinking` thought pieces: markers never reach
        either. `thinking` renders the template with its thinking switch on. `continuation`
        carries on a reply cut short (its text goes back in as the model's own). A model
        that keeps repeating itself is stopped with finish_reason "repetition".
        `on_thought_tokens` gets the running count of thought tokens (markers included).
        """
        request = _Request(
            max_tokens, sampling, thinking, continuation, on_token, on_thinking,
            on_prompt_progress, stop_on_repetition, on_thought_tokens,
        )
        with self._seq_lock:
            self._submitted += 1
            seq = self._submitted

        def job() -> GenerationResult:
            self._active_seq = seq
            try:
                if self._cancelled():  # stopped while it waited in the queue
                    return _untouched(continuation)
                return self._generate(messages, request)
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
        self, messages: Sequence[ChatMessage] | RenderedPrompt, request: _Request
    ) -> GenerationResult:
        import llama_cpp

        llm = self._require()
        assert self._format is not None and self._info is not None
        started = time.perf_counter()
        rendered = (
            messages
            if isinstance(messages, RenderedPrompt)
            else self._format.render(messages, thinking=request.thinking)
        )
        opened = prompt_opens_thought(rendered.text)
        stream = _ThoughtStream(
            request,
            [spelled for _real, spelled in self._marker_pairs],
            self._pair(opened) if opened is not None else None,
        )
        tokens = self._tokenize_prompt(rendered)
        prefix_ids: list[int] | None = []
        n_prompt = len(tokens)
        if request.continuation is not None:
            tokens = self._continued(tokens, request.continuation, stream)
            prefix_ids = tokens[n_prompt:] if request.continuation.token_ids else None
        n_ctx = self._info.n_ctx
        if len(tokens) >= n_ctx:
            raise ContextOverflowError(
                f"The prompt needs {len(tokens):,} tokens but the context window holds {n_ctx:,}.",
                hint="Remove attachments, start a new conversation, or load the model with a "
                "larger context.",
                needed=len(tokens),
                n_ctx=n_ctx,
            )
        max_tokens = request.max_tokens
        params = request.sampling or self._info.sampling
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
            # The reply so far that a continuation replays is counted as completion, not prompt.
            prompt_tokens=n_prompt,
            completion_tokens=0,
            reused_tokens=reused,
        )
        on_progress = request.on_prompt_progress
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
            stream.close(result)
            return _with_earlier_part(result, request.continuation, prefix_ids)
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
        stop_ids = self._info.stop_token_ids
        markers = self._marker_ids
        loops = RepetitionDetector.for_replies() if request.stop_on_repetition else None
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
                if llama_cpp.llama_vocab_is_control(vocab, token):
                    # Control tokens carry no text, except thought markers before the answer:
                    # those reach the parser (once the answer runs, they are dropped).
                    stream.feed(stream.marker_text(markers.get(token, "")), last_at)
                else:
                    piece = self._piece(token, special=False)
                    stream.feed(decoder.decode(piece) if piece else "", last_at)
                loop = loops.push(token) if loops is not None else None
                if loop is not None:
                    finish = "repetition"
                    result.repeated = describe_loop(loop, self._text_of(loop.tokens))
                    log.info("stopped a loop: period %d x%d", loop.period, loop.repeats)
                    llm.eval([token])  # keep the cache in step with token_ids
                    break
                llm.eval([token])
        except RuntimeError as exc:
            if not _is_abort(exc):
                raise
            finish = "cancelled"
        if finish == "length":
            result.length_limit = "context" if budget < max_tokens else "max_tokens"
        stream.tail(decoder.decode(b"", final=True))
        result.finish_reason = finish  # type: ignore[assignment]
        stream.close(result)
        if result.completion_tokens:
            result.ttft_s = first_at - started
            if result.completion_tokens > 1 and last_at > first_at:
                result.decode_tokens_per_s = (result.completion_tokens - 1) / (last_at - first_at)
        return _with_earlier_part(result, request.continuation, prefix_ids)

    def _text_of(self, tokens: Sequence[int]) -> str:
        """Plain text of generated tokens (control tokens left out)."""
        return b"".join(self._piece(t, special=False) for t in tokens).decode(
            "utf-8", errors="replace"
        )

    def _continued(
        self, prompt: list[int], continuation: Continuation, stream: _ThoughtStream
    ) -> list[int]:
        """The prompt's tokens followed by the reply so far, as the model wrote it."""
        assert self._format is not None
        stream.resume(continuation)
        if continuation.token_ids:
            # The exact tokens: the parser replays them one by one, as they were streamed.
            written = list(continuation.token_ids)
            for token in written:
                stream.prime(self._stream_text(token, stream))
            opened = stream.open_markers
            if continuation.close_thought and stream.in_thought and opened is not None:
                real, spelled = self._pair(opened)
                written += self._tokenize_marker(real.close)
                stream.prime(spelled.close)
            return prompt + written
        # Only the text is known: write it back with this model's markers.
        pair = stream.opened_by_prompt
        if pair is None and self._format.thought_markers is not None:
            pair = self._pair(self._format.thought_markers)
        segments: list[PromptSegment] = []
        primer = ""
        thought = continuation.thinking.strip()
        if pair is not None and (thought or continuation.close_thought):
            real, spelled = pair
            if stream.opened_by_prompt is None:
                segments.append(PromptSegment(real.open + real.label, True))
                primer += spelled.open + spelled.label
            segments.append(PromptSegment(thought, False))
            primer += thought
            if continuation.close_thought or continuation.answer:
                segments.append(PromptSegment(real.close, True))
                primer += spelled.close
        if continuation.answer:
            segments.append(PromptSegment(continuation.answer, False))
            primer += continuation.answer
        stream.prime(primer)
        extra = RenderedPrompt(tuple(s for s in segments if s.text), "continuation", False)
        return prompt + self._tokenize_prompt(extra)

    def _tokenize_marker(self, text: str) -> list[int]:
        return list(self._require().tokenize(text.encode(), add_bos=False, special=True))

    def _stream_text(self, token: int, stream: _ThoughtStream) -> str:
        """A generated token's text as the stream sees it (see the generation loop)."""
        import llama_cpp

        if llama_cpp.llama_vocab_is_control(self._vocab, token):
            return stream.marker_text(self._marker_ids.get(token, ""))
        return self._piece(token, special=False).decode("utf-8", errors="replace")


def _untouched(continuation: Continuation | None) -> GenerationResult:
    """A generation stopped before it began: a continued reply keeps what it had."""
    if continuation is None:
        return GenerationResult(
            text="", finish_reason="cancelled", prompt_tokens=0, completion_tokens=0
        )
    return GenerationResult(
        text=continuation.answer,
        finish_reason="cancelled",
        prompt_tokens=0,
        completion_tokens=continuation.completion_tokens,
        thinking=continuation.thinking,
        thinking_tokens=continuation.thinking_tokens,
        thinking_s=continuation.thinking_s,
        thinking_complete=bool(continuation.answer) or continuation.close_thought,
        reply_token_ids=list(continuation.token_ids),
    )


def _with_earlier_part(
    result: GenerationResult, continuation: Continuation | None, prefix_ids: list[int] | None
) -> GenerationResult:
    """Count a continued reply's earlier part in the result's totals."""
    if continuation is not None:
        result.completion_tokens += continuation.completion_tokens
    if prefix_ids is not None:
        result.reply_token_ids = prefix_ids + result.token_ids
    return result


@dataclass(frozen=True)
class _Request:
    """One generate() call's settings, carried to the engine thread."""

    max_tokens: int
    sampling: SamplingParams | None
    thinking: bool
    continuation: Continuation | None
    on_token: TokenCallback | None
    on_thinking: TokenCallback | None
    on_prompt_progress: ProgressCallback | None
    stop_on_repetition: bool
    on_thought_tokens: Callable[[int], None] | None = None


class _ThoughtStream:
    """Splits generated text into thought and answer as it streams, counting thought tokens."""

    def __init__(
        self,
        request: _Request,
        markers: Sequence[ThinkingMarkers],
        opened_by_prompt: tuple[ThinkingMarkers, ThinkingMarkers] | None,
    ) -> None:
        # (as written, as the parser sees it) when the prompt itself opened a thought.
        self.opened_by_prompt = opened_by_prompt
        self._request = request
        if opened_by_prompt is not None and opened_by_prompt[1] not in markers:
            markers = [*markers, opened_by_prompt[1]]
        self._markers = tuple(markers)
        self._parser = ThinkingParser(
            markers, in_thought=opened_by_prompt[1] if opened_by_prompt else None
        )
        self._thinking: list[str] = []
        self._answer: list[str] = []
        self.tokens = 0
        self._undecided = 0  # tokens seen before it is known whether a thought opens
        self._elapsed = 0.0
        self._since = 0.0

    def resume(self, continuation: Continuation) -> None:
        """Start from a reply so far; `prime` then replays its generated text.

        The thought and answer are taken from the continuation, not streamed again.
        """
        thought = continuation.thinking.strip()
        self._thinking = [thought] if thought else []
        self._answer = [continuation.answer] if continuation.answer else []
        self.tokens = continuation.thinking_tokens
        self._elapsed = continuation.thinking_s

    def prime(self, text: str) -> None:
        """Let the parser read earlier output silently, to know where the reply stands."""
        if text:
            self._parser.feed(text)

    @property
    def open_markers(self) -> ThinkingMarkers | None:
        """The markers (as the parser sees them) of the thought that opened, if one did."""
        return self._parser.markers

    def marker_text(self, spelled: str) -> str:
        """A marker token's text for the parser, or "" when it would not change the state.

        Control tokens never become visible text: an opener only counts before anything else,
        a closer only inside a thought; a stray one (a second opener mid-thought, any marker
        once the answer runs) is dropped.
        """
        if not spelled:
            return ""
        state = self._parser.state
        opens = any(spelled == m.open for m in self._markers)
        closes = any(spelled == m.close for m in self._markers)
        if (opens and state == "start") or (closes and state == "thinking"):
            return spelled
        return ""

    @property
    def in_thought(self) -> bool:
        """True while the reply is inside a thought."""
        return self._parser.state == "thinking"

    def feed(self, text: str, now: float) -> None:
        """One token's text (may be empty) at time `now`."""
        parser = self._parser
        before = parser.state
        pieces = parser.feed(text) if text else []
        after = parser.state
        if before == "start" and after == "start":
            self._undecided += 1
        elif before == "thinking" or after == "thinking":
            if not self._since:
                self._since = now
            self.tokens += 1 + (self._undecided if before == "start" else 0)
            if self._request.on_thought_tokens is not None:
                self._request.on_thought_tokens(self.tokens)
            if after != "thinking":
                self._elapsed += now - self._since
                self._since = 0.0
        self._emit(pieces)

    def tail(self, text: str) -> None:
        """Text the decoder still held at the end (belongs to tokens already counted)."""
        if text:
            self._emit(self._parser.feed(text))

    def _emit(self, pieces: Sequence[tuple[str, str]]) -> None:
        for kind, raw in pieces:
            text = raw.translate(_NO_MARKER_CHARS)
            if not text:
                continue
            if kind == "thinking":
                self._thinking.append(text)
                if self._request.on_thinking is not None:
                    self._request.on_thinking(text)
            else:
                self._answer.append(text)
                if self._request.on_token is not None:
                    self._request.on_token(text)

    def close(self, result: GenerationResult) -> None:
        """Flush the parser and fill the result's answer and thought fields."""
        self._emit(self._parser.finish())
        if self._since:
            self._elapsed += time.perf_counter() - self._since
            self._since = 0.0
        result.text = "".join(self._answer)
        result.thinking = "".join(self._thinking)
        result.thinking_tokens = self.tokens
        result.thinking_s = self._elapsed
        result.thinking_complete = not self._parser.unclosed
