"""What a loader gives the chunker: stretches of text, each with one location.

A section is the text under one heading on one page. Chunks never span two sections,
so every chunk can say where it came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field

HEADING_SEPARATOR = " › "


@dataclass(frozen=True)
class DocumentSection:
    """Text found at one place in a document.

    Attributes:
        text: The text, paragraphs separated by blank lines.
        page: The page it is on, counted from 1; ``None`` for formats without pages.
        heading: The headings above it, outermost first (e.g. ``"Install › Linux"``), or ``None``.
    """

    text: str
    page: int | None = None
    heading: str | None = None


@dataclass
class HeadingTrail:
    """The headings above the current line: entering a level closes the deeper ones."""

    _levels: list[tuple[int, str]] = field(default_factory=list)

    def enter(self, level: int, title: str) -> str | None:
        """Record a heading at ``level`` (smaller is outer) and return the trail down to it."""
        title = " ".join(title.split())
        while self._levels and self._levels[-1][0] >= level:
            self._levels.pop()
        if title:
            self._levels.append((level, title))
        return self.current()

    def current(self) -> str | None:
        """The trail as one line, or ``None`` before the first heading."""
        return HEADING_SEPARATOR.join(title for _, title in self._levels) or None


class SectionBuilder:
    """Collects lines into sections, starting a new one at each heading or page."""

    def __init__(self) -> None:
        self._sections: list[DocumentSection] = []
        self._lines: list[str] = []
        self._heading: str | None = None
        self._page: int | None = None

    def add_line(self, line: str) -> None:
        """Add one line of text to the current section."""
        self._lines.append(line)

    def start(self, heading: str | None, page: int | None = None) -> None:
        """Close the current section and start one under ``heading`` on ``page``."""
        self._flush()
        self._heading = heading
        self._page = page

    def sections(self) -> list[DocumentSection]:
        """Every non-empty section, in document order."""
        self._flush()
        return self._sections

    def _flush(self) -> None:
        text = "\n".join(self._lines).strip()
        self._lines = []
        if text:
            self._sections.append(DocumentSection(text, self._page, self._heading))
