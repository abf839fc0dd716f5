"""Turn stored history and attachments into model turns, and check they fit before sending."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gemma_desktop.core.chat import ChatMessage, Role
from gemma_desktop.core.errors import ContextOverflowError

# Room kept free for the answer when deciding whether a prompt fits.
DEFAULT_ANSWER_RESERVE = 512


@dataclass(frozen=True)
class TurnAttachment:
    """The part of an attachment the prompt needs."""

    name: str
    kind: str
    pages: int
    text: str
    tokens: int = 0


@dataclass(frozen=True)
class StoredTurn:
    """The part of a stored message the prompt needs."""

    role: Role
    content: str
    attachments: tuple[TurnAttachment, ...] = ()
    failed: bool = False


def render_attachment(attachment: TurnAttachment) -> str:
    """An attachment as the model reads it, documents before the question."""
    from gemma_desktop.core.documents.model import Document
    from gemma_desktop.core.documents.render import render_document

    doc = Document(
        path=Path(attachment.name),
        kind=attachment.kind,  # type: ignore[arg-type]
        name=attachment.name,
        pages=attachment.pages,
        text=attachment.text,
        content_hash="",
        warnings=[],
    )
    return render_document(doc)


def turns_from_store(store: Any, conversation_id: int, *,
                     before: int | None = None) -> list[StoredTurn]:
    """A stored conversation's messages as prompt turns (answers only: thoughts stay out).

    `before`: only messages older than this message id (to carry on the reply it names).
    """
    attachments = store.attachments_by_message(conversation_id)
    turns = []
    for message in store.list_messages(conversation_id):
        if before is not None and message.id >= before:
            break
        docs = tuple(
            TurnAttachment(a.name, a.kind, a.pages or 0, a.text, a.token_count)
            for a in attachments.get(message.id, [])
        )
        turns.append(StoredTurn(message.role, message.content, docs, message.status == "error"))
    return turns


def build_messages(system_prompt: str, turns: Sequence[StoredTurn]) -> list[ChatMessage]:
    """Model turns from stored ones: attachments folded in, failed empty replies left out.

    Earlier model turns go back with their answer only: a thought is stored apart from the
    answer and never sent back. A reply with no answer (only a thought) is left out.
    """
    messages: list[ChatMessage] = []
    if system_prompt.strip():
        messages.append(ChatMessage("system", system_prompt.strip()))
    for turn in turns:
        if (turn.failed or turn.role == "assistant") and not turn.content.strip():
            continue
        content = turn.content
        if turn.attachments:
            documents = "\n\n".join(render_attachment(a) for a in turn.attachments)
            content = f"{documents}\n\n{content}" if content else documents
        messages.append(ChatMessage(turn.role, content))
    return messages


def answer_reserve(max_tokens: int, n_ctx: int) -> int:
    """Tokens kept free for the answer: the reply limit asked for, at most half the window."""
    return max(1, min(max_tokens, n_ctx // 2))


def fit_hint(needed: int, n_ctx: int, n_ctx_max: int, *, window: bool) -> str:
    """What the user can do about a prompt that does not fit, in the words of the surface."""
    raise_where = "Settings → Context size" if window else "--ctx"
    if n_ctx < n_ctx_max and needed <= n_ctx_max:
        first = (
            f"Raise the context size to at least {needed:,} tokens ({raise_where}; this "
            f"model allows up to {n_ctx_max:,}), or"
        )
    elif needed > n_ctx_max:
        first = f"Even this model's largest context ({n_ctx_max:,} tokens) is too small, so"
    else:
        first = "The context is already at this model's maximum, so"
    rest = (
        "remove an attachment or start a new chat"
        if window
        else "attach less or ask about a shorter part of the document"
    )
    return f"{first} {rest}."


def check_fit(
    prompt_tokens: int,
    n_ctx: int,
    max_tokens: int,
    attachment_tokens: Mapping[str, int] | None = None,
    *,
    n_ctx_max: int | None = None,
    window: bool = False,
) -> None:
    """Raise ContextOverflowError, saying what takes the room, when the prompt cannot fit."""
    reserve = answer_reserve(max_tokens, n_ctx)
    if prompt_tokens + reserve <= n_ctx:
        return
    parts = ""
    if attachment_tokens:
        listed = ", ".join(f"{name} {count:,}" for name, count in attachment_tokens.items())
        parts = f" (attachments: {listed})"
    needed = prompt_tokens + reserve
    raise ContextOverflowError(
        f"This message does not fit: it needs {prompt_tokens:,} tokens{parts} plus "
        f"{reserve:,} for the reply, and the context window holds {n_ctx:,}. "
        "Nothing was sent and nothing was cut.",
        hint=fit_hint(needed, n_ctx, n_ctx_max or n_ctx, window=window),
        needed=needed,
        n_ctx=n_ctx,
    )
