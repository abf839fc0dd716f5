"""How documents are written into a prompt: tagged blocks placed before the question."""

from __future__ import annotations

from collections.abc import Sequence

from gemma_desktop.core.documents.model import Document

_CLOSE_TAG = "</document>"
# A document that itself contains the closing tag would end its block early and let the rest
# of its text pose as the user's words; a zero-width space keeps it visible but inert.
_INERT_CLOSE_TAG = "</\u200bdocument>"


def _attribute(value: str) -> str:
    """A name made safe to sit between double quotes on one line."""
    # Only the quote needs escaping to keep the attribute intact; "&" stays as typed so the
    # model quotes names exactly as the user sees them.
    return " ".join(value.splitlines()).replace('"', "&quot;")


def render_document(doc: Document) -> str:
    """One document as `<document name="..." pages="N">` text `</document>`."""
    header = f'<document name="{_attribute(doc.name)}"'
    if doc.kind == "pdf":
        header += f' pages="{doc.pages}"'
    body = doc.text.replace(_CLOSE_TAG, _INERT_CLOSE_TAG)
    return f"{header}>\n{body}\n{_CLOSE_TAG}"


def render_attachments(docs: Sequence[Document], question: str) -> str:
    """The documents first, then the question, separated by blank lines."""
    # Documents come first so that follow-up questions share the prompt prefix and the
    # engine can reuse the already processed tokens.
    blocks = [render_document(doc) for doc in docs]
    blocks.append(question)
    return "\n\n".join(blocks)
