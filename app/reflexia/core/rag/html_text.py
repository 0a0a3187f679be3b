"""HTML pages: the visible text, split at ``<h1>``–``<h6>``, with the page title as the first heading."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from reflexia.core.rag.sections import DocumentSection, HeadingTrail, SectionBuilder

_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
# Content a browser does not show as text.
_HIDDEN = frozenset({"script", "style", "noscript", "template", "svg", "canvas", "iframe", "object"})
# Elements that end a paragraph (a browser starts them on a new line).
_BLOCKS = frozenset((
    "address", "article", "aside", "blockquote", "dd", "details", "div", "dl", "dt", "fieldset",
    "figcaption", "figure", "footer", "form", "header", "hr", "li", "main", "nav", "ol", "p", "pre",
    "section", "summary", "table", "tbody", "td", "th", "thead", "tr", "ul",
))  # fmt: skip
_SPACES = re.compile(r"\s+")


class _VisibleText(HTMLParser):
    """Collects visible text into sections; whitespace collapses as a browser's does, except in ``<pre>``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.builder = SectionBuilder()
        self.trail = HeadingTrail()
        self.title = ""
        self._hidden = 0
        self._pre = 0
        self._in_title = False
        self._heading_level: int | None = None
        self._heading_words: list[str] = []
        self._line: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self._hidden += 1
        elif tag == "title":
            self._in_title = True
        elif tag in _HEADINGS:
            self._end_paragraph()
            self._heading_level, self._heading_words = _HEADINGS[tag], []
        elif tag == "br":
            self._end_line()
        elif tag in _BLOCKS:
            self._end_paragraph()
            self._pre += tag == "pre"

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self._end_line()
        elif tag in _BLOCKS:
            self._end_paragraph()

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag == "title":
            self._in_title = False
            if self.trail.current() is None and self.title.strip():
                self.builder.start(self.trail.enter(0, self.title))
        elif tag in _HEADINGS and self._heading_level is not None:
            self.builder.start(self.trail.enter(self._heading_level, " ".join(self._heading_words)))
            self._heading_level = None
        elif tag in _BLOCKS:
            self._end_paragraph()
            self._pre = max(0, self._pre - (tag == "pre"))

    def handle_data(self, data: str) -> None:
        if self._hidden:
            return
        if self._in_title:
            self.title += data
        elif self._heading_level is not None:
            self._heading_words.append(data)
        elif self._pre:
            lines = data.split("\n")
            self._line.append(lines[0])
            for line in lines[1:]:
                self._end_line()
                self._line.append(line)
        else:
            self._line.append(_SPACES.sub(" ", data))

    def _end_line(self) -> None:
        line = "".join(self._line)
        self._line = []
        self.builder.add_line(line if self._pre else line.strip())

    def _end_paragraph(self) -> None:
        if "".join(self._line).strip():
            self._end_line()
            self.builder.add_line("")


def html_sections(markup: str) -> list[DocumentSection]:
    """The visible text of an HTML page, one section per heading."""
    parser = _VisibleText()
    parser.feed(markup)
    parser.close()
    parser._end_paragraph()
    return parser.builder.sections()
