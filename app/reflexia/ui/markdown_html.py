"""Markdown to the HTML subset Qt's rich-text engine renders well, with highlighted code.

Qt's rich text ignores padding on most blocks, so code inside other blocks (a
list item, a quote) is wrapped in a one-cell table, which Qt does pad and
shade. Code blocks at the top level are handed out separately (``CodePart``) so
the chat view can give each one a frame and a real Copy button. Colours that do
not depend on the theme are translucent greys, which read on light and dark
bubbles alike; only Pygments' token colours need a light and a dark style. Raw
HTML in model output is escaped, never interpreted.
"""

from __future__ import annotations

import html
import re
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import OptionsDict
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

ColorScheme = Literal["light", "dark"]
_Env = MutableMapping[str, Any]  # markdown-it's per-render scratch space: scheme, streaming, codes

PYGMENTS_STYLES: dict[ColorScheme, str] = {"light": "default", "dark": "github-dark"}
COPY_LINK = "copy-code:"  # href prefix of the Copy links of code inside other blocks
MONOSPACE = "'JetBrains Mono','DejaVu Sans Mono',Menlo,Consolas,monospace"
INLINE_CODE_BACKGROUND = "rgba(128,128,128,0.16)"
CODE_BACKGROUND = "rgba(128,128,128,0.10)"
_MUTED = "rgba(128,128,128,1)"

# Qt's default heading sizes suit documents, not chat bubbles; its tables have no borders.
_TAGS = {
    "<h1>": '<h1 style="font-size:20px;">',
    "<h2>": '<h2 style="font-size:17px;">',
    "<h3>": '<h3 style="font-size:15px;">',
    "<table>": (
        '<table border="1" cellspacing="0" cellpadding="5" '
        'style="border-color:rgba(128,128,128,0.45); border-style:solid;">'
    ),
}


@dataclass(frozen=True)
class HtmlPart:
    """Blocks rendered as one piece of HTML.

    Attributes:
        html: Qt rich text.
        source: the Markdown it was rendered from (to render again in another scheme).
        codes: the code behind each ``copy-code:N`` link in ``html``, by N.
    """

    html: str
    source: str
    codes: tuple[str, ...] = ()


@dataclass(frozen=True)
class CodePart:
    """A code block at the top level.

    Attributes:
        code: exactly the code (no fence lines, no final newline).
        language: the fence's language, or a guessed one ('' if unknown).
    """

    code: str
    language: str


# Cheap signatures of the languages models write most; Pygments' own guess_lexer tries every
# lexer (80 ms the first time) and often picks an exotic one for a short snippet.
_SIGNATURES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (language, re.compile(pattern, re.MULTILINE))
    for language, pattern in (
        ("python", r"^\s*(def \w+\(|class \w+[(:]|from [\w.]+ import |import \w+$|print\(|if __name__)"),
        ("cpp", r"^#include\s*<(iostream|vector|string|memory)>|\bstd::"),
        ("c", r"^#include\s*[<\"]"),
        ("rust", r"\bfn \w+\(|\blet mut \b|println!\("),
        ("go", r"^package \w+$|^func \w+\("),
        ("java", r"\bpublic (static )?(class|void|final)\b"),
        ("javascript", r"\b(const|let) \w+ = |\bfunction \w*\(|console\.log\(|=> \{|require\("),
        ("sql", r"(?i)^\s*(select\b.+\bfrom\b|insert into\b|create table\b|update \w+ set\b)"),
        ("html", r"(?i)^\s*<(!doctype|html|head|body|div|span|p)\b"),
        ("json", r"\A\s*[\[{]\s*\""),
        ("console", r"\A\s*\$ "),  # a shell session: prompts and their output
        ("bash", r"^\s*(sudo |apt(-get)? |pip3? install |npm |brew |cd |ls\b|echo |export \w+=|mkdir )"),
    )
)


def guess_language(code: str) -> str:
    """The language ``code`` looks written in, or '' when nothing fits."""
    head = code[:2000]
    return next((language for language, pattern in _SIGNATURES if pattern.search(head)), "")


@lru_cache(maxsize=64)
def _lexer(language: str) -> Lexer | None:
    if not language:
        return None
    try:
        return get_lexer_by_name(language, stripnl=False)
    except ClassNotFound:
        return None


@lru_cache(maxsize=2)
def _formatter(scheme: ColorScheme) -> HtmlFormatter[str]:
    return HtmlFormatter(nowrap=True, noclasses=True, style=PYGMENTS_STYLES[scheme])


def code_to_html(code: str, language: str, scheme: ColorScheme = "light", *, highlighted: bool = True) -> str:
    """The code as a ``<pre>``, its tokens coloured with inline styles unless ``highlighted`` is False.

    Long lines wrap (``pre-wrap``): a chat bubble cannot scroll sideways.
    """
    lexer = _lexer(language) if highlighted else None
    if lexer is None:
        body = html.escape(code, quote=False)
    else:  # the formatter ends the last line; in a <pre> that would show as an empty line
        body = highlight(code, lexer, _formatter(scheme)).removesuffix("\n")
    return f'<pre style="margin:0; white-space:pre-wrap; font-family:{MONOSPACE};">{body}</pre>'


def _fence_parts(token: Token) -> tuple[str, str]:
    """(code, language) of a fence or indented code token."""
    code = token.content.removesuffix("\n")
    info = token.info.strip().split(maxsplit=1) if token.type == "fence" else []
    language = info[0].lower() if info else guess_language(code)
    return code, language


def _render_code(
    _renderer: RendererHTML, tokens: Sequence[Token], idx: int, _options: OptionsDict, env: _Env
) -> str:
    """Code inside other blocks (and any code while streaming): a shaded table with a small header."""
    code, language = _fence_parts(tokens[idx])
    streaming: bool = env.get("streaming", False)
    codes: list[str] = env.setdefault("codes", [])
    link = ""
    if not streaming:
        link = f'<a href="{COPY_LINK}{len(codes)}" style="text-decoration:none; color:{_MUTED};">Copy</a>'
        codes.append(code)
    head = (
        f'<tr><td style="color:{_MUTED}; font-size:11px;">{html.escape(language or "code")}</td>'
        f'<td align="right" style="font-size:11px;">{link}</td></tr>'
    )
    pre = code_to_html(code, language, env.get("scheme", "light"), highlighted=not streaming)
    return (
        f'<table width="100%" cellpadding="6" cellspacing="0" '
        f'style="margin-top:4px; margin-bottom:8px; background-color:{CODE_BACKGROUND};">'
        f'{head}<tr><td colspan="2">{pre}</td></tr></table>'
    )


def _render_inline_code(
    _renderer: RendererHTML, tokens: Sequence[Token], idx: int, _options: OptionsDict, _env: _Env
) -> str:
    return (
        f'<code style="background-color:{INLINE_CODE_BACKGROUND}; font-family:{MONOSPACE};">'
        f"&nbsp;{html.escape(tokens[idx].content, quote=False)}&nbsp;</code>"
    )


def _render_image(
    _renderer: RendererHTML, tokens: Sequence[Token], idx: int, _options: OptionsDict, _env: _Env
) -> str:
    """An image as a link to it: Qt would read an <img> source (``/dev/zero`` too) on the GUI thread."""
    token = tokens[idx]
    source = str(token.attrGet("src") or "")
    words = "".join(child.content for child in token.children or []) or source
    return f'<a href="{html.escape(source, quote=True)}">{html.escape(words, quote=False)}</a>'


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    parser = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable(["table", "strikethrough"])
    parser.add_render_rule("fence", _render_code)
    parser.add_render_rule("code_block", _render_code)
    parser.add_render_rule("code_inline", _render_inline_code)
    parser.add_render_rule("image", _render_image)
    return parser


def _render(tokens: Sequence[Token], env: _Env) -> str:
    parser = _parser()
    result: str = parser.renderer.render(tokens, parser.options, env)
    for tag, styled in _TAGS.items():
        result = result.replace(tag, styled)
    return result


def markdown_to_html(text: str, scheme: ColorScheme = "light", *, streaming: bool = False) -> str:
    """Render Markdown (headings, lists, code, tables) as Qt-friendly HTML.

    Args:
        text: the Markdown.
        scheme: which Pygments colours the code gets.
        streaming: the text is still being written: code is neither highlighted nor given
            Copy links (highlighting on every token would cost much, for a block that changes).
    """
    env: dict[str, Any] = {"scheme": scheme, "streaming": streaming}
    return _render(_parser().parse(text, env), env)


def render_blocks(
    text: str, scheme: ColorScheme = "light", *, streaming: bool = False
) -> list[HtmlPart | CodePart]:
    """Markdown as HTML parts, with each top-level code block apart (``CodePart``).

    Args:
        text: the Markdown.
        scheme: which Pygments colours code inside other blocks gets.
        streaming: as for ``markdown_to_html``.
    """
    env: dict[str, Any] = {"scheme": scheme, "streaming": streaming}
    tokens = _parser().parse(text, env)
    lines = text.splitlines(keepends=True)
    parts: list[HtmlPart | CodePart] = []
    group: list[Token] = []

    def close_group() -> None:
        spans = [t.map for t in group if t.level == 0 and t.map]
        if spans:
            env["codes"] = []
            source = "".join(lines[spans[0][0] : max(end for _, end in spans)])
            parts.append(HtmlPart(_render(group, env), source, tuple(env["codes"])))
        group.clear()

    for token in tokens:
        if token.level == 0 and token.type in ("fence", "code_block"):
            close_group()
            parts.append(CodePart(*_fence_parts(token)))
        else:
            group.append(token)
    close_group()
    return parts


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

    @property
    def continues_fence(self) -> bool:
        """The tail (and the next finished text) starts inside a code fence that was cut."""
        return bool(self._reopen)

    def take_all(self) -> str:
        """The rest, tail included, as finished Markdown (the text is complete); never cut."""
        rest = self.tail if self._stable < len(self.text) else ""
        self._stable, self._reopen = len(self.text), ""
        return rest

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
