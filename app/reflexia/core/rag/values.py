"""Values the document index hands out: progress, outcomes, summaries, collections and hits.

All are frozen dataclasses, safe to pass between threads (the indexing worker emits them
to the GUI thread). ``to_json_dict`` gives the shape of the CLI's ``--json`` output, a
stable contract: keys are added, never renamed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from reflexia.core.engine.values import Passage

#: The collection documents go into when none is named.
DEFAULT_COLLECTION = "default"

DocumentStatus = Literal["indexed", "unchanged", "failed"]


@dataclass(frozen=True)
class DocumentOutcome:
    """What became of one file in an indexing run.

    Attributes:
        path: The file.
        status: ``indexed`` (new or changed), ``unchanged`` (skipped, no work) or ``failed``.
        chunks: Chunks written (0 unless indexed).
        error: Why it failed: one line, without the path.
        problem: The reason in one word (see ``DocumentProblem``), when it failed.
    """

    path: Path
    status: DocumentStatus
    chunks: int = 0
    error: str | None = None
    problem: str | None = None


@dataclass(frozen=True)
class IndexSummary:
    """The result of an indexing run.

    Attributes:
        collection: The collection the files went into.
        indexed: Files indexed (new or changed).
        skipped: Files unchanged since they were indexed: no work was done.
        failed: Files that could not be indexed, with the reason.
        chunks: Chunks written in all.
        seconds: How long the run took.
        cancelled: Whether the run was cancelled before the end (the rest resumes next time).
    """

    collection: str
    indexed: tuple[Path, ...]
    skipped: tuple[Path, ...]
    failed: tuple[DocumentOutcome, ...]
    chunks: int
    seconds: float
    cancelled: bool = False

    def to_json_dict(self) -> dict[str, object]:
        """The summary as ``reflexia index --json`` prints it."""
        return {
            "collection": self.collection,
            "indexed": len(self.indexed),
            "skipped": len(self.skipped),
            "failed": [{"path": str(f.path), "error": f.error} for f in self.failed],
            "chunks": self.chunks,
            "seconds": round(self.seconds, 3),
            "cancelled": self.cancelled,
        }


@dataclass(frozen=True)
class IndexProgress:
    """Where an indexing run is, yielded after every file and every batch of chunks.

    Attributes:
        collection: The collection being indexed into.
        files_total: Files in the run.
        files_done: Files finished (indexed, unchanged or failed).
        chunks_done: Chunks embedded and stored so far in this run.
        current: The file being indexed, or ``None`` between files.
        elapsed_s: Seconds since the run started.
        chunks_per_s: Chunks embedded a second over the run so far.
        seconds_left: An estimate from the bytes still to read, or ``None`` before there is one.
        outcome: The file just finished, on the progress that follows it.
        summary: The run's result, on the last progress only.
    """

    collection: str
    files_total: int
    files_done: int
    chunks_done: int
    current: Path | None
    elapsed_s: float
    chunks_per_s: float
    seconds_left: float | None
    outcome: DocumentOutcome | None = None
    summary: IndexSummary | None = None


@dataclass(frozen=True)
class CollectionInfo:
    """A collection with its size."""

    name: str
    documents: int
    chunks: int
    embeddings_model: str

    def to_json_dict(self) -> dict[str, object]:
        """As ``reflexia collections --json`` prints it."""
        return {"name": self.name, "documents": self.documents, "chunks": self.chunks}


@dataclass(frozen=True)
class DocumentInfo:
    """An indexed document, as the documents panel lists it."""

    path: Path
    collection: str
    kind: str
    pages: int | None
    chunks: int
    size: int
    content_hash: str
    indexed_at: float


@dataclass(frozen=True)
class RemovalSummary:
    """What a removal took out of the index."""

    documents: int
    chunks: int


@dataclass(frozen=True)
class SearchHit:
    """A passage found for a query, with where it comes from.

    Attributes:
        source: The file.
        page: Its page (counted from 1), or ``None``.
        heading: The headings above it (``"Install › Linux"``), or ``None``.
        score: Fused relevance from 0 to 1: 1 is first in both the keyword and the vector ranking.
        similarity: Cosine similarity of query and passage (the relevance threshold applies to it).
        text: The passage.
        collection: The collection it was found in.
        chunk_id: Its id in the index.
    """

    source: Path
    page: int | None
    heading: str | None
    score: float
    similarity: float
    text: str
    collection: str
    chunk_id: int

    def to_json_dict(self) -> dict[str, object]:
        """As ``reflexia search --json`` prints it."""
        return {
            "source": str(self.source),
            "page": self.page,
            "heading": self.heading,
            "score": round(self.score, 4),
            "similarity": round(self.similarity, 4),
            "text": self.text,
        }


def passage_of(hit: SearchHit) -> Passage:
    """A hit as the model reads it beside the question: where it comes from, and its text."""
    where = hit.source.name + (f", page {hit.page}" if hit.page is not None else "")
    return Passage(where, hit.text)
