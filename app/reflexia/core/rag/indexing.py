"""Writing documents into the index: the indexing run and the clean-up after interrupted ones.

A run reads and chunks each file, records it as pending in the catalog, embeds its chunks
(several small files share a batch: the model is much faster on full batches), stores the
vectors and then commits the document in one transaction. Whatever stops a run (an error,
a cancel, an abandoned generator, ``kill -9``) leaves pending documents that :meth:`IndexWriter.clear`
or the next :meth:`IndexWriter.sweep` removes, so each document is fully indexed or absent.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from reflexia.core.rag.catalog import DocumentCatalog, FileVersion, Leftover, StoredCollection
from reflexia.core.rag.chunker import Chunk, ChunkSizes, chunk_sections
from reflexia.core.rag.embedder import Embedder
from reflexia.core.rag.errors import DocumentError, DocumentIndexError
from reflexia.core.rag.loaders import LoaderLimits, check_file, load_document
from reflexia.core.rag.values import DocumentOutcome, IndexProgress, IndexSummary
from reflexia.core.rag.vectors import VectorStore

#: Chunks embedded per step: a progress report (and a chance to cancel) every few seconds.
EMBED_BATCH = 64


class IndexingCancelled(Exception):  # noqa: N818 - a signal inside the generator, never shown to users
    """The caller set the cancel event; the document in progress is left out."""


def _content_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _text_hash(chunk: Chunk) -> str:
    return hashlib.sha1(" ".join(chunk.text.split()).encode(), usedforsecurity=False).hexdigest()


@dataclass
class _PendingDocument:
    """A document recorded as pending whose chunks are being embedded."""

    path: Path
    document_id: int
    replaces: int | None
    chunks: list[Chunk]
    ids: list[int]
    embedded: int = 0

    @property
    def chunks_left(self) -> int:
        return len(self.chunks) - self.embedded


class IndexWriter:
    """Adds documents to the index and removes what interrupted runs left; used under the writer lock."""

    def __init__(
        self,
        catalog: DocumentCatalog,
        vectors: Callable[[], VectorStore],
        embedder: Embedder,
        limits: LoaderLimits,
        chunk_sizes: Callable[[], ChunkSizes],
    ) -> None:
        """Write through ``catalog`` and the vector store ``vectors()`` opens (on first use)."""
        self._catalog = catalog
        self._vectors = vectors
        self.embedder = embedder
        self.limits = limits
        self._chunk_sizes = chunk_sizes

    def run(
        self, stored: StoredCollection, files: list[Path], missing: list[DocumentError],
        cancel: threading.Event | None, force: bool, started: float,
    ) -> Iterator[IndexProgress]:  # fmt: skip
        """Index ``files`` into a collection, yielding progress; the last progress carries the summary.

        Args:
            stored: The collection.
            files: The files found (each is indexed, found unchanged, or fails on its own).
            missing: Paths given that do not exist, reported as failed.
            cancel: Checked before each file and each batch.
            force: Index even unchanged files.
            started: When the run began (``time.monotonic()``), for rates.
        """
        sizes = {path: _size_or_zero(path) for path in files}
        bytes_left = sum(sizes.values())
        bytes_indexed = 0  # unchanged files cost nothing, so they must not speed up the estimate
        outcomes = [DocumentOutcome(e.path, "failed", error=e.detail, problem=e.problem) for e in missing]
        chunks_done = 0
        cancelled = False
        # Documents read and recorded as pending, waiting for their vectors. Chunks of several small
        # files are embedded together: the model is much faster on full batches.
        waiting: list[_PendingDocument] = []

        def progress(current: Path | None, outcome: DocumentOutcome | None = None) -> IndexProgress:
            elapsed = time.monotonic() - started
            return IndexProgress(
                collection=stored.name, files_total=len(files) + len(missing), files_done=len(outcomes),
                chunks_done=chunks_done, current=current, elapsed_s=elapsed,
                chunks_per_s=chunks_done / elapsed if elapsed > 0 else 0.0,
                seconds_left=bytes_left * elapsed / bytes_indexed if bytes_indexed else None, outcome=outcome,
            )  # fmt: skip

        def finish(outcome: DocumentOutcome) -> IndexProgress:
            nonlocal bytes_left, bytes_indexed
            bytes_left -= sizes[outcome.path]
            bytes_indexed += sizes[outcome.path] if outcome.status == "indexed" else 0
            outcomes.append(outcome)
            return progress(None, outcome)

        def cancelled_now() -> bool:
            return cancel is not None and cancel.is_set()

        def embed(until_fewer_than: int) -> Iterator[IndexProgress]:
            nonlocal chunks_done
            while waiting and sum(d.chunks_left for d in waiting) >= until_fewer_than:
                if cancelled_now():
                    raise IndexingCancelled
                chunks_done += self._embed_batch(stored, waiting)
                for outcome in self._commit_finished(stored, waiting):
                    yield finish(outcome)
                if waiting:
                    yield progress(waiting[0].path)

        try:
            for path in files:
                if cancelled_now():
                    raise IndexingCancelled
                yield progress(path)
                try:
                    prepared = self._prepare(stored, path, force)
                except DocumentError as exc:
                    self._catalog.dequeue(stored.id, path)
                    prepared = DocumentOutcome(path, "failed", error=exc.detail, problem=exc.problem)
                if isinstance(prepared, DocumentOutcome):
                    yield finish(prepared)
                else:
                    waiting.append(prepared)
                    yield from embed(until_fewer_than=EMBED_BATCH)
            yield from embed(until_fewer_than=1)
        except IndexingCancelled:
            cancelled = True
        finally:
            for document in waiting:  # cancelled, failed or abandoned: the pending versions go again
                self.clear(Leftover(stored.id, document.document_id))
        summary = IndexSummary(
            collection=stored.name,
            indexed=tuple(o.path for o in outcomes if o.status == "indexed"),
            skipped=tuple(o.path for o in outcomes if o.status == "unchanged"),
            failed=tuple(o for o in outcomes if o.status == "failed"),
            chunks=sum(o.chunks for o in outcomes),
            seconds=time.monotonic() - started,
            cancelled=cancelled,
        )
        yield replace(progress(None), summary=summary)

    def _prepare(
        self, stored: StoredCollection, path: Path, force: bool
    ) -> DocumentOutcome | _PendingDocument:
        """Read and chunk one file and record it as pending, or find it unchanged (no work)."""
        kind, stat = check_file(path, self.limits)
        existing = self._catalog.ready_document(stored.id, path)
        if existing and not force and (existing.size, existing.mtime_ns) == (stat.st_size, stat.st_mtime_ns):
            self._catalog.dequeue(stored.id, path)
            return DocumentOutcome(path, "unchanged")
        try:
            content_hash = _content_hash(path)
        except OSError as exc:
            raise DocumentError.from_os_error(path, exc) from exc
        if existing and not force and existing.content_hash == content_hash:
            self._catalog.note_unchanged(existing, stat.st_mtime_ns)
            self._catalog.dequeue(stored.id, path)
            return DocumentOutcome(path, "unchanged")
        document = load_document(path, self.limits)
        chunks = chunk_sections(document.sections, self.embedder, self._chunk_sizes(), document.title)
        if not chunks:
            raise DocumentError(path, "empty", "has no text to index")
        version = FileVersion(path, stat.st_size, stat.st_mtime_ns, content_hash)
        document_id, ids = self._catalog.add_pending(
            stored.id, version, kind, document.pages, [(chunk, _text_hash(chunk)) for chunk in chunks]
        )
        return _PendingDocument(path, document_id, existing.id if existing else None, chunks, ids)

    def _embed_batch(self, stored: StoredCollection, waiting: list[_PendingDocument]) -> int:
        """Embed and store the next batch of waiting chunks, oldest document first; returns how many."""
        parts: list[tuple[_PendingDocument, int, int]] = []
        room = EMBED_BATCH
        for document in waiting:
            take = min(room, document.chunks_left)
            if take:
                parts.append((document, document.embedded, document.embedded + take))
                room -= take
            if room == 0:
                break
        texts = [chunk.embedding_text for document, a, b in parts for chunk in document.chunks[a:b]]
        vectors = self.embedder.embed_documents(texts)
        offset = 0
        for document, a, b in parts:
            self._vectors().add(
                stored.id, document.document_id, document.ids[a:b], vectors[offset : offset + b - a]
            )
            offset += b - a
            document.embedded = b
        return len(texts)

    def _commit_finished(
        self, stored: StoredCollection, waiting: list[_PendingDocument]
    ) -> list[DocumentOutcome]:
        """Make the fully embedded documents (first in line) searchable and retire what they replace."""
        outcomes = []
        while waiting and waiting[0].chunks_left == 0:
            document = waiting[0]
            self._catalog.commit_document(document.document_id, stored.id, document.path, document.replaces)
            waiting.pop(0)
            if document.replaces is not None:
                self.clear(Leftover(stored.id, document.replaces))
            outcomes.append(DocumentOutcome(document.path, "indexed", chunks=len(document.chunks)))
        return outcomes

    # Leftovers of killed or failed writers -----------------------------------------------------

    def clear(self, leftover: Leftover) -> None:
        """Drop a leftover's vectors, then its records; if the store fails, the next writer tries again."""
        try:
            if leftover.document_id is None:
                self._vectors().drop_collection(leftover.collection_id)
            else:
                self._vectors().drop_document(leftover.collection_id, leftover.document_id)
        except DocumentIndexError:
            return  # still listed: the next sweep removes it
        self._catalog.clear_leftover(leftover)

    def sweep(self) -> None:
        """Remove what a killed writer left: pending documents and retired vectors (under the writer lock)."""
        for leftover in self._catalog.leftovers():
            self.clear(leftover)


def _size_or_zero(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0
