"""Chat prompts: render turns with the GGUF's own template, keeping user text apart from markup."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gemma_desktop.core.chat import ChatMessage
from gemma_desktop.core.errors import UserError
from gemma_desktop.core.thinking import DEFAULT_MARKERS, GEMMA4_MARKERS, ThinkingMarkers

# Private-use code points never occur in real text; they mark where message content goes.
_SENTINEL = "\ue000{}\ue001"
_SENTINEL_RE = re.compile("\ue000(\\d+)\ue001")
# Gemma 4's switch: at the start of the first system turn it asks the model to think first.
GEMMA4_THINK_TOKEN = "<|think|>"


@dataclass(frozen=True)
class PromptSegment:
    """A piece of prompt text; `special` pieces may contain control tokens, others never do."""

    text: str
    special: bool


@dataclass(frozen=True)
class RenderedPrompt:
    """A prompt as segments, so user and document text is tokenized with special tokens off."""

    segments: tuple[PromptSegment, ...]
    format_name: str
    add_bos: bool

    @property
    def text(self) -> str:
        """The exact prompt text (without a BOS the tokenizer adds itself)."""
        return "".join(segment.text for segment in self.segments)


@dataclass(frozen=True)
class TokenTexts:
    """Texts of the model's special tokens that templates refer to."""

    bos: str = "<bos>"
    eos: str = "<eos>"


class TemplateError(UserError):
    """The model's chat template cannot render this conversation."""


def normalize_turns(messages: Sequence[ChatMessage]) -> list[ChatMessage]:
    """Merge consecutive turns of one role so templates that require alternation accept them."""
    merged: list[ChatMessage] = []
    for message in messages:
        if merged and merged[-1].role == message.role and message.role != "system":
            merged[-1] = ChatMessage(message.role, merged[-1].content + "\n\n" + message.content)
        else:
            merged.append(message)
    return merged


class PromptFormat:
    """Renders a conversation; subclasses say how."""

    name = "base"

    def render(
        self,
        messages: Sequence[ChatMessage],
        *,
        add_generation_prompt: bool = True,
        thinking: bool = False,
    ) -> RenderedPrompt:
        """Render turns into prompt segments ending with the model's turn opener."""
        raise NotImplementedError

    @property
    def supports_thinking(self) -> bool:
        """True when the format can ask the model to reason before it answers."""
        return False

    @property
    def thought_markers(self) -> ThinkingMarkers | None:
        """The markers this model writes around a thought, when known."""
        return None

    @property
    def stop_texts(self) -> tuple[str, ...]:
        """Control-token texts that end the model's turn besides the vocabulary's EOG tokens."""
        return ()


class Gemma3Format(PromptFormat):
    """Gemma 2/3 turns; no system role, so the system prompt opens the first user turn."""

    name = "gemma3"

    def __init__(self, tokens: TokenTexts) -> None:
        self._bos = tokens.bos

    def render(
        self,
        messages: Sequence[ChatMessage],
        *,
        add_generation_prompt: bool = True,
        thinking: bool = False,
    ) -> RenderedPrompt:
        turns = normalize_turns(messages)
        system = "\n\n".join(m.content for m in turns if m.role == "system")
        turns = [m for m in turns if m.role != "system"]
        segments: list[PromptSegment] = [PromptSegment(self._bos, True)]
        for index, message in enumerate(turns):
            role = "model" if message.role == "assistant" else "user"
            content = message.content.strip()
            if index == 0 and system and role == "user":
                content = f"{system.strip()}\n\n{content}"
            segments.append(PromptSegment(f"<start_of_turn>{role}\n", True))
            segments.append(PromptSegment(content, False))
            segments.append(PromptSegment("<end_of_turn>\n", True))
        if system and (not turns or turns[0].role != "user"):
            # No user turn to fold it into: the system text gets a user turn of its own.
            segments[1:1] = [
                PromptSegment("<start_of_turn>user\n", True),
                PromptSegment(system.strip(), False),
                PromptSegment("<end_of_turn>\n", True),
            ]
        if add_generation_prompt:
            segments.append(PromptSegment("<start_of_turn>model\n", True))
        return RenderedPrompt(_merge(segments), self.name, add_bos=False)

    @property
    def stop_texts(self) -> tuple[str, ...]:
        return ("<end_of_turn>", "<start_of_turn>")


class Gemma4Format(PromptFormat):
    """Gemma 4 turns with a native system role, used when a Gemma 4 GGUF carries no template."""

    name = "gemma4"

    def __init__(self, tokens: TokenTexts) -> None:
        self._bos = tokens.bos

    def render(
        self,
        messages: Sequence[ChatMessage],
        *,
        add_generation_prompt: bool = True,
        thinking: bool = False,
    ) -> RenderedPrompt:
        turns = normalize_turns(messages)
        if thinking and (not turns or turns[0].role != "system"):
            # Thinking is switched on in the system turn, so one is opened when there is none.
            turns = [ChatMessage("system", ""), *turns]
        segments: list[PromptSegment] = [PromptSegment(self._bos, True)]
        for index, message in enumerate(turns):
            role = {"assistant": "model"}.get(message.role, message.role)
            segments.append(PromptSegment(f"<|turn>{role}\n", True))
            if index == 0 and thinking:
                segments.append(PromptSegment(GEMMA4_THINK_TOKEN, True))
            segments.append(PromptSegment(message.content.strip(), False))
            segments.append(PromptSegment("<turn|>\n", True))
        if add_generation_prompt:
            segments.append(PromptSegment("<|turn>model\n", True))
        return RenderedPrompt(_merge(segments), self.name, add_bos=False)

    @property
    def stop_texts(self) -> tuple[str, ...]:
        return ("<turn|>", "<|turn>")

    @property
    def supports_thinking(self) -> bool:
        return True

    @property
    def thought_markers(self) -> ThinkingMarkers | None:
        return GEMMA4_MARKERS


class PlainFormat(PromptFormat):
    """A neutral transcript for models that carry no template and are not Gemma."""

    name = "plain"

    def render(
        self,
        messages: Sequence[ChatMessage],
        *,
        add_generation_prompt: bool = True,
        thinking: bool = False,
    ) -> RenderedPrompt:
        labels = {"system": "System", "user": "User", "assistant": "Assistant"}
        segments: list[PromptSegment] = []
        for message in normalize_turns(messages):
            segments.append(PromptSegment(f"{labels[message.role]}: ", True))
            segments.append(PromptSegment(message.content.strip(), False))
            segments.append(PromptSegment("\n\n", True))
        if add_generation_prompt:
            segments.append(PromptSegment("Assistant:", True))
        return RenderedPrompt(_merge(segments), self.name, add_bos=True)


class JinjaFormat(PromptFormat):
    """The GGUF's own `tokenizer.chat_template`, rendered in a Jinja sandbox."""

    name = "gguf-template"

    def __init__(self, template: str, tokens: TokenTexts) -> None:
        import jinja2
        import jinja2.sandbox

        def raise_exception(message: str) -> None:
            raise TemplateError(f"The model's chat template refused this conversation: {message}")

        def strftime_now(fmt: str) -> str:
            return datetime.now().strftime(fmt)

        env = jinja2.sandbox.ImmutableSandboxedEnvironment(
            trim_blocks=True, lstrip_blocks=True, loader=jinja2.BaseLoader()
        )
        env.globals["raise_exception"] = raise_exception
        env.globals["strftime_now"] = strftime_now
        try:
            self._template = env.from_string(template)
        except jinja2.TemplateError as exc:
            raise TemplateError(
                f"The model's chat template is broken: {exc}",
                hint="Use another GGUF of this model or report it to whoever published the file.",
            ) from exc
        self._tokens = tokens
        self.source = template

    def _render_text(
        self, turns: Sequence[dict[str, Any]], add_generation_prompt: bool, extra: dict[str, Any]
    ) -> str:
        import jinja2

        try:
            return self._template.render(
                messages=turns,
                add_generation_prompt=add_generation_prompt,
                bos_token=self._tokens.bos,
                eos_token=self._tokens.eos,
                **extra,
            )
        except TemplateError:
            raise
        except (jinja2.TemplateError, TypeError, ValueError, KeyError) as exc:
            raise TemplateError(
                f"The model's chat template failed on this conversation: {exc}",
                hint="Try a new conversation, or another GGUF of this model.",
            ) from exc

    def render(
        self,
        messages: Sequence[ChatMessage],
        *,
        add_generation_prompt: bool = True,
        thinking: bool = False,
        extra: dict[str, Any] | None = None,
    ) -> RenderedPrompt:
        turns = normalize_turns(messages)
        # Always passed: templates that think unless told otherwise (Qwen 3 style) need False.
        extra = {"enable_thinking": thinking, **(extra or {})}
        real = [{"role": m.role, "content": m.content} for m in turns]
        marked = [{"role": m.role, "content": _SENTINEL.format(i)} for i, m in enumerate(turns)]
        real_text = self._render_text(real, add_generation_prompt, extra)
        marked_text = self._render_text(marked, add_generation_prompt, extra)
        segments = _align(real_text, marked_text, [m.content for m in turns])
        add_bos = not real_text.startswith(self._tokens.bos)
        return RenderedPrompt(_merge(segments), self.name, add_bos=add_bos)

    @property
    def stop_texts(self) -> tuple[str, ...]:
        if "<start_of_turn>" in self.source:
            return ("<end_of_turn>", "<start_of_turn>")
        if "<|turn>" in self.source:
            return ("<turn|>", "<|turn>")
        return ()

    @property
    def supports_thinking(self) -> bool:
        return template_supports_thinking(self.source)

    @property
    def thought_markers(self) -> ThinkingMarkers | None:
        for markers in DEFAULT_MARKERS:
            if markers.open in self.source:
                return markers
        return GEMMA4_MARKERS if GEMMA4_THINK_TOKEN in self.source else None


def template_supports_thinking(template: str | None) -> bool:
    """True when a chat template has a thinking switch (`enable_thinking` or the think token)."""
    if not template:
        return False
    return "enable_thinking" in template or GEMMA4_THINK_TOKEN in template


def prompt_opens_thought(text: str) -> ThinkingMarkers | None:
    """The markers of a thought the prompt itself opened and left open, if any.

    Some templates end the generation prompt with "<think>\n", so the reply starts mid-thought;
    Gemma 4's 26B and 31B end it with an empty, closed block when thinking is off.
    """
    tail = text.rstrip()
    for markers in DEFAULT_MARKERS:
        opened = tail.rfind(markers.open)
        if opened < 0:
            continue
        rest = tail[opened + len(markers.open) :]
        if markers.close not in rest and rest.strip() in ("", markers.label.strip()):
            return markers
    return None


def _align(real_text: str, marked_text: str, contents: Sequence[str]) -> list[PromptSegment]:
    """Split the real rendering into template markup and message content using sentinels."""
    parts = _SENTINEL_RE.split(marked_text)
    segments: list[PromptSegment] = []
    position = 0
    for index, part in enumerate(parts):
        if index % 2 == 0:
            if not real_text.startswith(part, position):
                return [PromptSegment(real_text, True)]
            segments.append(PromptSegment(part, True))
            position += len(part)
            continue
        content = contents[int(part)]
        following = parts[index + 1] if index + 1 < len(parts) else ""
        for candidate in (content, content.strip(), content.rstrip(), content.lstrip()):
            end = position + len(candidate)
            if real_text.startswith(candidate, position) and real_text.startswith(following, end):
                segments.append(PromptSegment(candidate, False))
                position = end
                break
        else:
            # The template transformed the content beyond trimming; keep all text, unsplit.
            return [PromptSegment(real_text, True)]
    return segments


def _merge(segments: Sequence[PromptSegment]) -> tuple[PromptSegment, ...]:
    """Join neighbours of the same kind and drop empty pieces."""
    merged: list[PromptSegment] = []
    for segment in segments:
        if not segment.text:
            continue
        if merged and merged[-1].special == segment.special:
            merged[-1] = PromptSegment(merged[-1].text + segment.text, segment.special)
        else:
            merged.append(segment)
    return tuple(merged)


def choose_format(architecture: str, chat_template: str | None, tokens: TokenTexts) -> PromptFormat:
    """The GGUF's template when it has one, else the right format for its architecture."""
    if chat_template and chat_template.strip():
        return JinjaFormat(chat_template, tokens)
    if architecture.startswith("gemma4"):
        return Gemma4Format(tokens)
    if architecture.startswith(("gemma3", "gemma2", "gemma")):
        return Gemma3Format(tokens)
    return PlainFormat()
