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
        f'<pre style="font-family:\'DejaVu Sans Mono\',Menlo,monospace; margin:0;">{body}</pre>'
        "</td></tr></table>"
    )


def _inline_code(match: re.Match[str]) -> str:
    return (
        f'<code style="background-color:{INLINE_CODE_BACKGROUND}; '
        f"font-family:'DejaVu Sans Mono',Menlo,monospace;\">&nbsp;{match.group(1)}&nbsp;</code>"
    )


def markdown_to_html(text: str) -> str:
    """Render Markdown (headings, lists, code, tables) as Qt-friendly HTML."""
    html = _parser().render(text)
    html = _PRE.sub(_code_block, html)
    return _INLINE_CODE.sub(_inline_code, html)
