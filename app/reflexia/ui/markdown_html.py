"""Markdown to the HTML subset Qt's rich-text engine renders well.

Qt's rich text ignores padding on most blocks, so code blocks are wrapped in a
one-cell table, which Qt does pad and shade. Raw HTML in model output is
escaped, never interpreted.
"""

from __future__ import annotations

import re
from functools import lru_cache

from markdown_it import MarkdownIt

CODE_BACKGROUND = "#f1f3f7"
INLINE_CODE_BACKGROUND = "#eceff4"


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable(["table", "strikethrough"])


_PRE = re.compile(r"<pre><code(?: class=\"language-[^\"]*\")?>(.*?)</code></pre>", re.DOTALL)
_INLINE_CODE = re.compile(r"<code>(.*?)</code>", re.DOTALL)


def _code_block(match: re.Match[str]) -> str:
    body = match.group(1).rstrip("\n")
    return (
        f'<table width="100%" cellpadding="10" cellspacing="0" bgcolor="{CODE_BACKGROUND}" '
        'style="margin-top:4px; margin-bottom:8px;"><tr><td>'
        f"<pre style=\"font-family:'DejaVu Sans Mono',Menlo,monospace; margin:0;\">{body}</pre>"
        "</td></tr></table>"
    )


def _inline_code(match: re.Match[str]) -> str:
    return (
        f'<code style="background-color:{INLINE_CODE_BACKGROUND}; '
        f"font-family:'DejaVu Sans Mono',Menlo,monospace;\">&nbsp;{match.group(1)}&nbsp;</code>"
    )


# Qt's default heading sizes suit documents, not chat bubbles; its tables have no borders.
_TAGS = {
    "<h1>": '<h1 style="font-size:20px;">',
    "<h2>": '<h2 style="font-size:17px;">',
    "<h3>": '<h3 style="font-size:15px;">',
    "<table>": '<table border="1" cellspacing="0" cellpadding="5" style="border-color:#d5d9e0;">',
}


def markdown_to_html(text: str) -> str:
    """Render Markdown (headings, lists, code, tables) as Qt-friendly HTML."""
    html = _parser().render(text)
    for tag, styled in _TAGS.items():
        html = html.replace(tag, styled)
    html = _PRE.sub(_code_block, html)
    return _INLINE_CODE.sub(_inline_code, html)


_FENCE = re.compile(r"^ {0,3}(```|~~~)")


class MarkdownStream:
    """Splits streaming Markdown into finished blocks and the block still being written.

    A block is finished at a blank line outside a code fence, or at a fence's
    closing line, so each finished block is rendered once and only the short
    tail is rendered again as tokens arrive. A tail that grows past
    ``max_tail`` characters without such a boundary is cut at a line end (or a
    space); a cut inside a code fence closes the fence and reopens it in the
    tail, so both halves still render as code.
    """

    def __init__(self, max_tail: int = 800) -> None:
        self.text = ""
        self._stable = 0  # text[:_stable] has been handed out as finished blocks
        self._reopen = ""  # fence opener to put in front of the tail after a cut inside a fence
        self._max_tail = max_tail

    def feed(self, piece: str) -> None:
        """Append streamed text."""
        self.text += piece

    @property
    def tail(self) -> str:
        """Markdown of the text after the last finished block."""
        return self._reopen + self.text[self._stable :]

    def take_finished(self) -> str:
        """Markdown of the finished blocks not handed out yet ('' if none)."""
        boundary = self._stable
        opener = self._reopen  # the open fence's first line, '' outside a fence
        line_end, opener_at_line_end = self._stable, opener
        position = self._stable
        for line in self.text[self._stable :].splitlines(keepends=True):
            if not line.endswith("\n"):
                break  # an unfinished line decides nothing yet
            position += len(line)
            if _FENCE.match(line):
                opener = "" if opener else line
                if not opener:
                    boundary = position
            elif not opener and not line.strip():
                boundary = position
            line_end, opener_at_line_end = position, opener
        chunk = (self._reopen if boundary > self._stable else "") + self.text[self._stable : boundary]
        if boundary > self._stable:
            self._stable, self._reopen = boundary, ""
        if len(self.text) - self._stable <= self._max_tail:
            return chunk
        # No natural boundary for too long: cut so the tail stays cheap to re-render.
        if line_end > self._stable:
            cut, reopen = line_end, opener_at_line_end
        elif not self._reopen:
            space = self.text.rfind(" ", self._stable, len(self.text) - 1)
            if space < 0:
                return chunk
            cut, reopen = space + 1, ""
        else:
            return chunk
        piece = self._reopen + self.text[self._stable : cut]
        if reopen:
            piece += "```\n" if reopen.lstrip().startswith("`") else "~~~\n"
        self._stable, self._reopen = cut, reopen
        return chunk + piece
