"""Plain text, Markdown, reStructuredText and source code: decoding and headings.

Markdown and reStructuredText headings become section headings (with their parents),
so a chunk can say it came from "Install › Linux". Lines in fenced code blocks are
never taken for headings.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from reflexia.core.rag.errors import DocumentError
from reflexia.core.rag.sections import DocumentSection, HeadingTrail, SectionBuilder

# More than this share of control characters and it is not text, whatever its extension says.
_MAX_CONTROL_SHARE = 0.05
_TEXT_CONTROLS = frozenset(b"\t\n\r\f\b\x1b")

_ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT_UNDERLINE = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_RST_ADORNMENT = re.compile(r"^([=\-`:'\"~^_*+#<>.])\1{2,}[ \t]*$")


def decode_text(path: Path, data: bytes) -> str:
    """The text of a file's bytes: UTF-8 (with or without BOM), UTF-16 with BOM, else Windows-1252.

    Raises:
        DocumentError: the bytes are not text (``binary``) or hold only white space (``empty``).
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise _binary(path) from exc
    else:
        # NUL never occurs in text in an 8-bit encoding, and nearly always in binary files.
        if b"\x00" in data:
            raise _binary(path)
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("cp1252", errors="replace")  # older Windows text files
    sample = text[:65_536]
    controls = sum(1 for c in sample if ord(c) < 32 and ord(c) not in _TEXT_CONTROLS)
    if sample and controls / len(sample) > _MAX_CONTROL_SHARE:
        raise _binary(path)
    if not text.strip():
        raise DocumentError(path, "empty", "holds only white space; there is nothing to index")
    return text


def _binary(path: Path) -> DocumentError:
    return DocumentError(
        path, "binary", f"is not text, although its name ends in {path.suffix} (a binary file renamed?)"
    )


def plain_sections(text: str) -> list[DocumentSection]:
    """A text or source file: one section, no headings."""
    return [DocumentSection(text.strip())]


def _without_front_matter(lines: list[str]) -> list[str]:
    """Drop a leading YAML block (``---`` ... ``---``): metadata, not prose."""
    if lines and lines[0].strip() == "---":
        for end in range(1, len(lines)):
            if lines[end].strip() in ("---", "..."):
                return lines[end + 1 :]
    return lines


def markdown_sections(text: str) -> list[DocumentSection]:
    """Split Markdown at its ATX (``## Title``) and setext (underlined) headings."""
    lines = _without_front_matter(text.splitlines())
    builder = SectionBuilder()
    trail = HeadingTrail()
    fence: str | None = None
    previous_blank = True
    pending: str | None = None  # a one-line paragraph that an underline may turn into a heading
    for line in lines:
        if fence is not None:
            closing = _FENCE.match(line)
            if closing and closing.group(1)[0] == fence[0] and len(closing.group(1)) >= len(fence):
                fence = None
            builder.add_line(line)
            continue
        underline = _SETEXT_UNDERLINE.match(line)
        if underline and pending is not None:
            builder.start(trail.enter(1 if underline.group(1)[0] == "=" else 2, pending))
            pending, previous_blank = None, True
            continue
        if pending is not None:
            builder.add_line(pending)
            pending = None
        opened = _FENCE.match(line)
        heading = _ATX_HEADING.match(line)
        thematic_break = underline is not None and underline.group(1)[0] == "-" and len(line.strip()) >= 3
        if opened:
            fence = opened.group(1)
            builder.add_line(line)
        elif heading:
            builder.start(trail.enter(len(heading.group(1)), heading.group(2) or ""))
        elif thematic_break:
            pass  # a rule across the page, no words
        elif previous_blank and line.strip():
            pending = line  # held back: the next line may underline it into a heading
        else:
            builder.add_line(line)
        previous_blank = bool(heading) or thematic_break or not line.strip()
    if pending is not None:
        builder.add_line(pending)
    return builder.sections()


def _rst_title(lines: list[str], index: int) -> tuple[str, tuple[str, bool], int] | None:
    """The section title at ``lines[index]``: its text, its adornment style and the lines it takes."""
    over = _RST_ADORNMENT.match(lines[index])
    at = index + 1 if over else index
    if at + 1 >= len(lines):
        return None
    title, under = lines[at], _RST_ADORNMENT.match(lines[at + 1])
    if under is None or not title.strip() or _RST_ADORNMENT.match(title):
        return None
    if len(under.group(0).rstrip()) < len(title.rstrip()) or (over and over.group(1) != under.group(1)):
        return None
    return title.strip(), (under.group(1), over is not None), at + 2 - index


def rst_sections(text: str) -> list[DocumentSection]:
    """Split reStructuredText at its section titles (a line underlined, optionally overlined too)."""
    lines = text.splitlines()
    builder = SectionBuilder()
    trail = HeadingTrail()
    styles: list[tuple[str, bool]] = []  # reST ranks titles by the order their adornment styles appear
    index = 0
    while index < len(lines):
        found = _rst_title(lines, index) if index == 0 or not lines[index - 1].strip() else None
        if found is None:
            if not _RST_ADORNMENT.match(lines[index]):  # a lone adornment is a transition: no words
                builder.add_line(lines[index])
            index += 1
            continue
        title, style, used = found
        if style not in styles:
            styles.append(style)
        builder.start(trail.enter(styles.index(style) + 1, title))
        index += used
    return builder.sections()
