"""Cutting sections into chunks measured in the embedder's own tokens.

A chunk never spans two sections (so never two headings or two pages) and ends at a
paragraph boundary whenever that still leaves it at least half full. Inside a paragraph
it ends between sentences (or lines, for code); only a single sentence longer than a
whole chunk is cut between tokens. Where a cut falls inside a paragraph, the next chunk
repeats the last sentences before the cut (up to the overlap) so no passage loses its
context; a cut at a paragraph boundary needs no overlap.

The settings ``rag.chunk_size`` and ``rag.chunk_overlap`` are in characters (their titles
say so); :meth:`ChunkSizes.from_settings` turns them into tokens at four characters a token,
the average for English with WordPiece, and keeps a chunk within the window the model
reads: all-MiniLM-L6-v2 ignores everything past 256 tokens.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from reflexia.core.rag.sections import HEADING_SEPARATOR, DocumentSection

#: Characters of English text per WordPiece token, to read the character settings as tokens.
CHARACTERS_PER_TOKEN = 4
MIN_CHUNK_TOKENS = 16

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
# Between sentences (after . ! ? ; : and any closing quote or bracket) and at every line end.
_UNIT_BREAK = re.compile(r"[.!?;:][\"')\]]*([ \t]+)|([ \t]*\n\s*)")


class TokenCounter(Protocol):
    """What the chunker needs from the embedder: its tokenizer (an :class:`~.embedder.Embedder` is one)."""

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """How many tokens each text is."""
        ...

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Each token's start and end in ``text``."""
        ...


@dataclass(frozen=True)
class ChunkSizes:
    """How long chunks are and how much consecutive chunks of one paragraph share, in tokens."""

    tokens: int = 200
    overlap: int = 30

    def __post_init__(self) -> None:
        if self.tokens < MIN_CHUNK_TOKENS:
            raise ValueError(f"chunks of {self.tokens} tokens are too small (at least {MIN_CHUNK_TOKENS})")
        if not 0 <= self.overlap <= self.tokens // 2:
            raise ValueError(f"an overlap of {self.overlap} tokens must be between 0 and half a chunk")

    @classmethod
    def from_settings(cls, chunk_size: int, chunk_overlap: int, max_tokens: int) -> ChunkSizes:
        """Sizes from ``rag.chunk_size`` and ``rag.chunk_overlap`` (characters) for a model of ``max_tokens``.

        Example: the shipped 800 and 120 characters give chunks of 200 tokens overlapping by 30.
        """
        tokens = max(MIN_CHUNK_TOKENS, min(max_tokens, chunk_size // CHARACTERS_PER_TOKEN))
        return cls(tokens, min(tokens // 2, chunk_overlap // CHARACTERS_PER_TOKEN))


@dataclass(frozen=True)
class Chunk:
    """A passage of a document, the unit that is embedded, searched and cited.

    Attributes:
        text: The passage, exactly as in the section (line breaks kept).
        page: Its page, or ``None``.
        heading: The headings above it, or ``None``.
        section: Which section of the document it comes from (0 for the first).
        start: Where it starts in the section's text (characters).
        end: Where it ends in the section's text; chunks of one section overlap where
            ``start`` is before the previous chunk's ``end``.
        tokens: Its length in the embedder's tokens, context included.
        title: The document's title (its file name), or ``None``.
    """

    text: str
    page: int | None
    heading: str | None
    section: int
    start: int
    end: int
    tokens: int
    title: str | None = None

    @property
    def context(self) -> str:
        """The document's title and the headings above the passage: what it is about, in a line."""
        return HEADING_SEPARATOR.join(part for part in (self.title, self.heading) if part)

    @property
    def embedding_text(self) -> str:
        """What is embedded: the passage under its context, which gives a passage its topic."""
        return f"{self.context}\n\n{self.text}" if self.context else self.text


@dataclass(frozen=True)
class _Unit:
    start: int
    end: int
    tokens: int
    paragraph: int


def _pieces(text: str) -> list[tuple[int, int, int]]:
    """(start, end, paragraph) of every sentence or line of ``text``, white space trimmed."""
    pieces: list[tuple[int, int, int]] = []
    paragraph_ends = [m.start() for m in _PARAGRAPH_BREAK.finditer(text)] + [len(text)]
    paragraph_starts = [0] + [m.end() for m in _PARAGRAPH_BREAK.finditer(text)]
    for number, (paragraph_start, paragraph_end) in enumerate(
        zip(paragraph_starts, paragraph_ends, strict=True)
    ):
        position = paragraph_start
        breaks = list(_UNIT_BREAK.finditer(text, paragraph_start, paragraph_end))
        gaps = [m.span(1) if m.group(1) is not None else m.span(2) for m in breaks]
        for boundary in [*gaps, (paragraph_end, paragraph_end)]:
            piece = text[position : boundary[0]]
            if piece.strip():
                lead = len(piece) - len(piece.lstrip())
                pieces.append((position + lead, position + len(piece.rstrip()), number))
            position = boundary[1]
    return pieces


def _units(text: str, counter: TokenCounter, sizes: ChunkSizes, budget: int) -> list[_Unit]:
    """The sentences and lines of ``text`` with their token counts; longer ones cut into windows."""
    pieces = _pieces(text)
    counts = counter.count_tokens([text[start:end] for start, end, _ in pieces])
    units: list[_Unit] = []
    for (start, end, paragraph), tokens in zip(pieces, counts, strict=True):
        if tokens <= budget:
            units.append(_Unit(start, end, tokens, paragraph))
            continue
        # One sentence longer than a chunk (minified code, a table flattened to one line): cut it
        # between tokens, overlapping as chunks do.
        spans = counter.token_spans(text[start:end])
        step = max(1, budget - sizes.overlap)
        for first in range(0, len(spans), step):
            window = spans[first : first + budget]
            units.append(_Unit(start + window[0][0], start + window[-1][1], len(window), paragraph))
            if first + budget >= len(spans):
                break
    return units


def _pack(units: list[_Unit], budget: int, overlap: int) -> list[tuple[int, int, int]]:
    """Group units into chunks: (first unit, unit after the last, tokens)."""
    groups: list[tuple[int, int, int]] = []
    first = 0
    while first < len(units):
        total, after = 0, first
        while after < len(units) and total + units[after].tokens <= budget:
            total += units[after].tokens
            after += 1
        after = max(after, first + 1)  # every unit fits a chunk on its own; this only guards the loop
        if after < len(units) and units[after].paragraph == units[after - 1].paragraph:
            # The cut falls inside a paragraph: move it to the paragraph's start if the chunk stays half full.
            starts = [i for i in range(first + 1, after) if units[i].paragraph != units[i - 1].paragraph]
            if starts and sum(u.tokens for u in units[first : starts[-1]]) >= budget // 2:
                after = starts[-1]
        groups.append((first, after, sum(u.tokens for u in units[first:after])))
        if after >= len(units):
            break
        following = after
        if units[after].paragraph == units[after - 1].paragraph:
            shared = 0
            while (
                following - 1 > first
                and units[following - 1].paragraph == units[after].paragraph
                and shared + units[following - 1].tokens <= overlap
            ):
                following -= 1
                shared += units[following].tokens
        first = following
    return groups


def chunk_sections(
    sections: Sequence[DocumentSection], counter: TokenCounter, sizes: ChunkSizes, title: str | None = None
) -> list[Chunk]:
    """Cut a document's sections into chunks of at most ``sizes.tokens`` tokens, context included.

    Args:
        sections: The document's text with locations, as a loader gives it.
        counter: The embedder (its tokenizer measures every piece).
        sizes: Chunk length and overlap in tokens.
        title: The document's title, embedded with every chunk (its file name says what it is about).
    """
    contexts = {HEADING_SEPARATOR.join(p for p in (title, s.heading) if p) for s in sections}
    context_list = sorted(contexts)
    context_tokens = dict(zip(context_list, counter.count_tokens(context_list), strict=True))
    chunks: list[Chunk] = []
    for number, section in enumerate(sections):
        # The context is embedded with every chunk; a very long one may take at most half the room.
        context_cost = context_tokens[HEADING_SEPARATOR.join(p for p in (title, section.heading) if p)]
        budget = sizes.tokens - min(context_cost, sizes.tokens // 2)
        units = _units(section.text, counter, sizes, budget)
        for first, after, tokens in _pack(units, budget, sizes.overlap):
            start, end = units[first].start, max(unit.end for unit in units[first:after])
            text = section.text[start:end]
            chunks.append(
                Chunk(text, section.page, section.heading, number, start, end, tokens + context_cost, title)
            )
    return chunks
