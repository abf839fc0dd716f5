"""Markdown to Qt rich text (markdown-it-py + pygments), rendered incrementally while streaming."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

from markdown_it import MarkdownIt
from PySide6.QtGui import QTextBlockFormat, QTextCharFormat, QTextCursor, QTextDocument

_FENCE_RE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


@dataclass(frozen=True)
class CodeColors:
    """Colours of a code block; chosen by the theme."""

    background: str
    border: str
    pygments_style: str
    inline_background: str


LIGHT_CODE = CodeColors("#f4f5f7", "#e1e4e8", "friendly", "#eceef1")
DARK_CODE = CodeColors("#1b1d22", "#32363e", "monokai", "#2c3038")


class MarkdownRenderer:
    """Turns Markdown into the HTML subset QTextDocument understands; no raw HTML, no images.

    Threading: pure; use from the GUI thread (pygments lexers are cached per instance).
    """

    def __init__(self, colors: CodeColors = LIGHT_CODE) -> None:
        self.colors = colors
        # html=False: model output must never inject markup (remote <img>, styles).
        # breaks=True: a single newline in a reply is a line break, as the model meant it.
        self._md = MarkdownIt("commonmark", {"html": False, "linkify": False, "breaks": True})
        self._md.enable(["table", "strikethrough"])
        # markdown-it binds rules to its renderer, so each rule is a closure over this object.
        for name, method in (
            ("fence", self._render_fence),
            ("code_block", self._render_fence),
            ("code_inline", self._render_inline_code),
            ("image", self._render_image),
        ):
            self._md.add_render_rule(name, _as_rule(method))
        self._formatter: Any = None

    def set_colors(self, colors: CodeColors) -> None:
        """Switch code colours (theme change); affects later renders."""
        self.colors = colors
        self._formatter = None

    def to_html(self, text: str) -> str:
        """Render one Markdown text to HTML."""
        rendered = self._md.render(text)
        # Markdown tables get visible grid lines and padding (Qt ignores CSS borders on cells).
        return rendered.replace(
            "<table>",
            f'<table border="1" cellspacing="0" cellpadding="6" '
            f'style="border-color:{self.colors.border}; border-style:solid; margin:6px 0;">',
        )

    # --- render rules ----------------------------------------------------------------------

    def _highlight(self, code: str, language: str) -> str:
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import get_lexer_by_name
        from pygments.util import ClassNotFound

        if not language:
            return html.escape(code)
        try:
            lexer = get_lexer_by_name(language, stripnl=False, ensurenl=False)
        except ClassNotFound:
            return html.escape(code)
        if self._formatter is None:
            self._formatter = HtmlFormatter(
                nowrap=True, noclasses=True, style=self.colors.pygments_style, nobackground=True
            )
        return str(highlight(code, lexer, self._formatter))

    def _render_fence(self, tokens: Any, idx: int, options: Any, env: Any) -> str:
        token = tokens[idx]
        language = (token.info or "").strip().split(" ")[0]
        code = token.content.rstrip("\n")
        body = self._highlight(code, language)
        label = (
            f'<p style="margin:0 0 4px 0; color:#8a8f98; font-size:small;">'
            f"{html.escape(language)}</p>"
            if language
            else ""
        )
        c = self.colors
        # A one-cell table is how QTextDocument draws a padded, tinted block.
        return (
            f'<table width="100%" cellspacing="0" cellpadding="10" border="0" '
            f'style="background-color:{c.background}; border-color:{c.border}; '
            f'margin-top:6px; margin-bottom:6px;"><tr><td>{label}'
            f'<pre style="margin:0; font-family:monospace;">{body}</pre></td></tr></table>\n'
        )

    def _render_inline_code(self, tokens: Any, idx: int, options: Any,
                            env: Any) -> str:
        code = html.escape(tokens[idx].content)
        return (
            f'<code style="font-family:monospace; background-color:'
            f'{self.colors.inline_background};">&nbsp;{code}&nbsp;</code>'
        )

    def _render_image(self, tokens: Any, idx: int, options: Any, env: Any) -> str:
        token = tokens[idx]
        alt = html.escape(token.content or "image")
        src = html.escape(str(token.attrGet("src") or ""), quote=True)
        # Images are never fetched; the link stays visible so nothing is hidden from the user.
        return f'<a href="{src}">[image: {alt}]</a>'


def _as_rule(method: Any) -> Any:
    def rule(_renderer: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        return str(method(tokens, idx, options, env))

    return rule


def split_blocks(text: str) -> tuple[list[str], str]:
    """Split at blank lines outside code fences into completed blocks and the open tail.

    A block counts as completed only when a later line starts at column 0 after a blank
    line, so indented continuations (list paragraphs, indented code) stay with their block.
    """
    blocks: list[str] = []
    lines = text.split("\n")
    start = 0  # index of the first line of the current block
    fence: str | None = None
    blank_before = False
    for index, line in enumerate(lines):
        if index == len(lines) - 1:
            break  # the last line is still being written
        match = _FENCE_RE.match(line)
        if fence is None:
            if line.strip() == "":
                blank_before = True
                continue
            if blank_before and index > start and not line[:1].isspace():
                block = "\n".join(lines[start:index]).strip("\n")
                if block:
                    blocks.append(block)
                start = index
            blank_before = False
            if match:
                fence = match.group(1)
        elif match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence) \
                and line.strip() == match.group(1):
            fence = None
            blank_before = False
    tail = "\n".join(lines[start:])
    return blocks, tail


class IncrementalMarkdown:
    """Keeps a QTextDocument showing growing Markdown without re-rendering finished blocks.

    Completed blocks are converted and inserted once; only the open trailing block is
    replaced on each update, so a long answer costs O(new text) per batch, not O(answer).
    Threading: GUI thread only (it edits a QTextDocument).
    """

    def __init__(self, document: QTextDocument, renderer: MarkdownRenderer) -> None:
        self._doc = document
        self._renderer = renderer
        self._stable_chars = 0  # characters of the source already inserted as finished blocks
        self._tail_pos = 0  # document position where the open block starts
        self._has_blocks = False
        self.text = ""

    def set_text(self, text: str) -> None:
        """Render the whole text at once (history, the end of a stream)."""
        self.text = text
        self._stable_chars = len(text)
        self._doc.setHtml(self._renderer.to_html(text))
        self._tail_pos = self._end()
        self._has_blocks = bool(text)

    def begin(self) -> None:
        """Start a streamed message from empty."""
        self.text = ""
        self._stable_chars = 0
        self._doc.clear()
        self._tail_pos = 0
        self._has_blocks = False

    def append(self, piece: str) -> None:
        """Add streamed text; renders new finished blocks once and the open tail again."""
        self.text += piece
        blocks, tail = split_blocks(self.text[self._stable_chars:])
        cursor = QTextCursor(self._doc)
        cursor.beginEditBlock()
        cursor.setPosition(self._tail_pos)
        cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
        for block in blocks:
            self._insert(cursor, block)
            self._stable_chars += self.text[self._stable_chars:].index(block) + len(block)
        self._tail_pos = cursor.position()
        if tail.strip():
            self._insert(cursor, tail, keep_blocks=False)
        cursor.endEditBlock()

    def _insert(self, cursor: QTextCursor, markdown: str, keep_blocks: bool = True) -> None:
        if self._has_blocks:
            cursor.insertBlock(QTextBlockFormat(), QTextCharFormat())
        cursor.insertHtml(self._renderer.to_html(markdown))
        if keep_blocks:
            self._has_blocks = True
        else:
            # The tail is replaced next time; the separator it added must not count.
            pass

    def _end(self) -> int:
        cursor = QTextCursor(self._doc)
        cursor.movePosition(QTextCursor.MoveOperation.End)
        return cursor.position()
