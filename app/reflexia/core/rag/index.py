"""The document index: files in, passages out, with hybrid keyword + vector search.

A folder holds two stores: ChromaDB's (``PersistentClient``) for the vectors and a SQLite
catalog (:mod:`~reflexia.core.rag.catalog`) for collections, documents, chunk text and the
BM25 keyword index. Documents are known by path and content hash: an unchanged file costs
a ``stat`` (or a hash, if only its time changed), a changed one replaces its old chunks.
Indexing is a generator of :class:`IndexProgress` that can be paused (stop pulling),
cancelled (an event, checked between batches) and resumed next time (:meth:`DocumentIndex.resume`);
a ``kill -9`` at any moment leaves each document fully indexed or not at all.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Generator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from reflexia.core.rag.catalog import (
    DocumentCatalog,
    Leftover,
    StoredChunk,
    StoredCollection,
)
from reflexia.core.rag.chunker import ChunkSizes
from reflexia.core.rag.embedder import Embedder
from reflexia.core.rag.errors import DocumentIndexError
from reflexia.core.rag.indexing import IndexWriter
from reflexia.core.rag.loaders import DEFAULT_LIMITS, LoaderLimits, find_documents
from reflexia.core.rag.retrieval import (
    DEFAULT_MIN_SIMILARITY,
    KEYWORD_WEIGHT,
    RRF_K,
    fuse,
    keyword_terms,
    without_overlaps,
)
from reflexia.core.rag.values import (
    DEFAULT_COLLECTION,
    CollectionInfo,
    DocumentInfo,
    IndexProgress,
    IndexSummary,
    RemovalSummary,
    SearchHit,
)
from reflexia.core.rag.vectors import VectorStore
from reflexia.core.rag.writer_lock import WriterLock

if TYPE_CHECKING:
    from reflexia.core.config.settings import Settings

CATALOG_FILE_NAME = "documents.sqlite3"
MAX_COLLECTION_NAME = 100

Ranking = Literal["hybrid", "vector", "keyword"]


@dataclass(frozen=True)
class IndexHealth:
    """What :meth:`DocumentIndex.check` found.

    Attributes:
        problems: Inconsistencies, one line each; none in a healthy index.
        leftovers: Documents an interrupted writer left half-written or retired (invisible to search).
    """

    problems: tuple[str, ...]
    leftovers: int


class DocumentIndex:
    """Collections of indexed documents in one folder, and search over them.

    Threads: an index object belongs to one thread at a time (the indexing worker). Another
    thread that searches opens its own ``DocumentIndex`` on the same folder and may share
    the :class:`Embedder`. Changes take a lock on the folder, so two writers (the app and
    ``reflexia index``) never interleave; the second is told the documents are busy.
    """

    def __init__(
        self,
        folder: Path,
        embedder: Embedder | None = None,
        *,
        chunk_characters: tuple[int, int] = (800, 120),
        limits: LoaderLimits = DEFAULT_LIMITS,
        min_similarity: float = DEFAULT_MIN_SIMILARITY,
    ) -> None:
        """Open (or create) the index in ``folder``; the embedder and ChromaDB load when first needed.

        Args:
            folder: The vector store folder (``settings.vector_db_dir()``).
            embedder: The embeddings model; by default all-MiniLM-L6-v2.
            chunk_characters: ``rag.chunk_size`` and ``rag.chunk_overlap`` (characters; see
                :meth:`ChunkSizes.from_settings`).
            limits: File size limits.
            min_similarity: The relevance threshold of :meth:`search`.

        Raises:
            DocumentIndexError: the folder or the catalog cannot be opened.
        """
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DocumentIndexError(f"{folder}: cannot create the document index folder ({exc})") from exc
        self.folder = folder
        self.embedder = embedder if embedder is not None else Embedder()
        self.limits = limits
        self.min_similarity = min_similarity
        self._chunk_characters = chunk_characters
        self._sizes: ChunkSizes | None = None
        self._catalog = DocumentCatalog(folder / CATALOG_FILE_NAME)
        self._vector_store: VectorStore | None = None
        self._writer = IndexWriter(
            self._catalog, self._vectors, self.embedder, limits, lambda: self.chunk_sizes
        )

    @classmethod
    def from_settings(cls, settings: Settings, embedder: Embedder | None = None) -> DocumentIndex:
        """The index at the vector store folder of ``settings``, with its embeddings model and chunk sizes."""
        return cls(
            settings.vector_db_dir(),
            embedder if embedder is not None else Embedder(settings.rag.embeddings_model),
            chunk_characters=(settings.rag.chunk_size, settings.rag.chunk_overlap),
        )

    def close(self) -> None:
        """Close the catalog; everything is already saved."""
        self._catalog.close()

    def __enter__(self) -> DocumentIndex:
        """Use the index in a ``with`` block that closes it."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Close the index."""
        self.close()

    @property
    def chunk_sizes(self) -> ChunkSizes:
        """Chunk length and overlap in the embedder's tokens (loads the embedder)."""
        if self._sizes is None:
            size, overlap = self._chunk_characters
            self._sizes = ChunkSizes.from_settings(size, overlap, self.embedder.max_tokens)
        return self._sizes

    def _vectors(self) -> VectorStore:
        if self._vector_store is None:
            self._vector_store = VectorStore(self.folder)
        return self._vector_store

    # Collections and documents -----------------------------------------------------------------

    def collections(self) -> list[CollectionInfo]:
        """Every collection with its document and chunk counts, by name."""
        return [
            CollectionInfo(stored.name, documents, chunks, stored.embeddings_model)
            for stored, documents, chunks in self._catalog.collection_counts()
        ]

    def documents(self, collection: str = DEFAULT_COLLECTION) -> list[DocumentInfo]:
        """The indexed documents of a collection, by path (none if there is no such collection)."""
        stored = self._catalog.collection(collection)
        if stored is None:
            return []
        return [
            DocumentInfo(
                d.path, stored.name, d.kind, d.pages, d.chunk_count, d.size, d.content_hash, d.indexed_at
            )
            for d in self._catalog.ready_documents(stored.id)
        ]

    def unfinished(self) -> list[tuple[str, Path]]:
        """Files a run was asked for and did not finish (cancelled, quit, killed): (collection, path)."""
        return self._catalog.queued()

    def drop_unfinished(self, collection: str) -> int:
        """Forget the files of a collection's unfinished runs (the user cancelled them); returns how many."""
        stored = self._catalog.collection(collection)
        if stored is None:
            return 0
        dropped = [path for name, path in self.unfinished() if name == collection]
        for path in dropped:
            self._catalog.dequeue(stored.id, path)
        return len(dropped)

    def _existing_collection(self, name: str) -> StoredCollection:
        stored = self._catalog.collection(name)
        if stored is None:
            raise DocumentIndexError(f"there is no document collection named {name!r}")
        return stored

    def _check_model(self, stored: StoredCollection) -> None:
        if stored.embeddings_model != self.embedder.name:
            raise DocumentIndexError(
                f"collection {stored.name!r} was indexed with the embeddings model "
                f"{stored.embeddings_model!r}, not {self.embedder.name!r}; switch the model back, "
                "or forget the collection and index it again"
            )

    def _writable_collection(self, name: str) -> StoredCollection:
        clean = name.strip()
        if not clean or len(clean) > MAX_COLLECTION_NAME or clean != name:
            raise DocumentIndexError(
                f"collection name {name!r} must be 1 to {MAX_COLLECTION_NAME} characters, "
                "not starting or ending with spaces"
            )
        stored = self._catalog.collection(name) or self._catalog.add_collection(name, self.embedder.name)
        self._check_model(stored)
        return stored

    # Indexing ----------------------------------------------------------------------------------

    def index_paths(
        self, paths: Iterable[Path], collection: str = DEFAULT_COLLECTION, *, force: bool = False
    ) -> IndexSummary:
        """Index files and folders to the end and return the summary (see :meth:`index_files`)."""
        summary: IndexSummary | None = None
        for progress in self.index_files(paths, collection, force=force):
            summary = progress.summary or summary
        assert summary is not None  # the last progress always carries it
        return summary

    def index_files(
        self,
        paths: Iterable[Path],
        collection: str = DEFAULT_COLLECTION,
        *,
        cancel: threading.Event | None = None,
        force: bool = False,
    ) -> Generator[IndexProgress, None, None]:
        """Index files and folders (recursively) into a collection, yielding progress as it goes.

        Each file is indexed, found unchanged (no work), or failed with a reason; a failure
        never stops the batch. The last progress carries the :class:`IndexSummary`. Stop
        pulling to pause. Set ``cancel`` to stop before the next file or batch: files read but
        not yet fully embedded are left out (small files share a batch, so that may be a few).
        Files not done, cancelled or cut short by a crash, are indexed by :meth:`resume`. Close
        the generator when abandoning it early (it holds the writer lock until closed).

        Args:
            paths: Files and folders as the user gave them.
            collection: The collection to index into; created if need be.
            cancel: Set it (from any thread) to stop soon.
            force: Index files again even if unchanged (a "re-index" command).

        Raises:
            DocumentIndexError: the index is busy, cannot be written, or the collection uses another model.
            EmbedderError: the embeddings model cannot be loaded or fails.
        """
        started = time.monotonic()
        files, missing = find_documents(paths)
        with WriterLock(self.folder):
            self._writer.sweep()
            stored = self._writable_collection(collection)
            self._catalog.enqueue(stored.id, files)
            for error in missing:  # a queued file deleted since: resuming it is over
                self._catalog.dequeue(stored.id, error.path)
            yield from self._writer.run(stored, files, missing, cancel, force, started)

    def resume(self, cancel: threading.Event | None = None) -> Generator[IndexProgress, None, None]:
        """Index the files of runs that did not finish (see :meth:`unfinished`); a summary per collection."""
        by_collection: dict[str, list[Path]] = {}
        for name, path in self.unfinished():
            by_collection.setdefault(name, []).append(path)
        for name, files in by_collection.items():
            yield from self.index_files(files, name, cancel=cancel)
            if cancel is not None and cancel.is_set():
                return

    def check(self) -> IndexHealth:
        """Compare the catalog, the keyword index and the vector store (a diagnostic; reads everything).

        Every ready document must have all its chunks, their keywords and exactly one vector each,
        and no vector may belong to no document (leftovers of an interrupted writer excepted:
        they are invisible to search and removed by the next change).
        """
        problems: list[str] = []
        try:
            self._catalog.execute("INSERT INTO chunk_words (chunk_words) VALUES ('integrity-check')")
        except sqlite3.DatabaseError as exc:
            problems.append(f"the keyword index does not match the chunks ({exc})")
        leftovers = self._catalog.leftovers()
        for stored, _, chunk_total in self._catalog.collection_counts():
            for document in self._catalog.ready_documents(stored.id):
                rows = self._catalog.chunk_count(document.id)
                vectors = self._vectors().count(stored.id, document.id)
                if rows != document.chunk_count or vectors != document.chunk_count:
                    problems.append(
                        f"{document.path} in {stored.name!r}: {document.chunk_count} chunks recorded, "
                        f"{rows} stored, {vectors} vectors"
                    )
            unfinished = sum(
                self._vectors().count(stored.id, item.document_id)
                for item in leftovers
                if item.collection_id == stored.id and item.document_id is not None
            )
            extra = self._vectors().count(stored.id) - chunk_total - unfinished
            if extra:
                problems.append(f"collection {stored.name!r}: {extra} vectors belong to no document")
        return IndexHealth(tuple(problems), len(leftovers))

    # Removing ----------------------------------------------------------------------------------

    def remove(self, *, path: Path | None = None, collection: str | None = None) -> RemovalSummary:
        """Forget a document, every document under a folder, or a whole collection.

        Args:
            path: A file or folder; without ``collection``, it is removed from every collection.
            collection: With ``path``, only from this collection; alone, the whole collection.

        Raises:
            DocumentIndexError: nothing matches (the message says what was looked for), or the index is busy.
        """
        if path is None and collection is None:
            raise ValueError("remove() needs a path, a collection, or both")
        with WriterLock(self.folder):
            self._writer.sweep()
            stored = self._existing_collection(collection) if collection is not None else None
            if path is None:
                assert stored is not None
                documents, chunks = self._catalog.retire_collection(stored)
                self._writer.clear(Leftover(stored.id, None))
                return RemovalSummary(documents, chunks)
            target = path.expanduser().absolute()
            found = self._catalog.ready_documents(stored.id if stored else None, under=target)
            if not found:
                where = f" in collection {stored.name!r}" if stored else ""
                raise DocumentIndexError(f"{target} is not indexed{where}")
            self._catalog.retire_documents(found)
            for document in found:
                self._writer.clear(Leftover(document.collection_id, document.id))
            return RemovalSummary(len(found), sum(d.chunk_count for d in found))

    # Searching ---------------------------------------------------------------------------------

    def search(
        self,
        query: str,
        collection: str = DEFAULT_COLLECTION,
        k: int = 4,
        *,
        ranking: Ranking = "hybrid",
        min_similarity: float | None = None,
    ) -> list[SearchHit]:
        """The ``k`` passages of a collection that best answer ``query``, best first.

        Hybrid ranking fuses the vector ranking (cosine similarity) and the keyword ranking
        (BM25) by reciprocal rank; passages below the relevance threshold are left out, and so
        is every passage overlapping a better one. An empty list means nothing relevant.

        Args:
            query: The question or words to look for.
            collection: The collection to search.
            k: How many passages at most.
            ranking: ``hybrid``, or one ranking alone (for comparisons).
            min_similarity: The relevance threshold; ``None`` uses the index's.

        Raises:
            DocumentIndexError: no such collection, or it was indexed with another model.
            EmbedderError: the embeddings model cannot be loaded.
        """
        stored = self._existing_collection(collection)
        self._check_model(stored)
        if not query.strip() or k < 1:
            return []
        pool = max(8 * k, 40)  # candidates for fusion, the threshold and de-duplication to choose from
        query_vector = self.embedder.embed_query(query)
        nearest = [] if ranking == "keyword" else self._vectors().nearest(stored.id, query_vector, pool)
        terms = keyword_terms(query) if ranking != "vector" else []
        keyword_ids = self._catalog.keyword_matches(stored.id, terms, pool) if terms else []
        # Only chunks of ready documents count: a pending or retired one may still have a vector.
        chunks = self._catalog.ready_chunks(list(dict.fromkeys([i for i, _ in nearest] + keyword_ids)))
        similarity = {i: s for i, s in nearest if i in chunks}
        # Passages found only by their words get a similarity too: the threshold applies to every hit.
        unscored = [i for i in keyword_ids if i in chunks and i not in similarity]
        for i, vector in self._vectors().vectors(stored.id, unscored).items():
            similarity[i] = float(vector @ query_vector)
        rankings = [
            ([i for i, _ in nearest if i in chunks], 1.0),
            ([i for i in keyword_ids if i in chunks], KEYWORD_WEIGHT),
        ]
        fused = fuse(rankings, RRF_K)
        threshold = self.min_similarity if min_similarity is None else min_similarity
        ranked = sorted(fused, key=lambda i: fused[i], reverse=True)
        relevant = [chunks[i] for i in ranked if similarity.get(i, 0.0) >= threshold]
        best_possible = sum(weight / (RRF_K + 1) for ids, weight in rankings if ids) or 1.0
        return [
            _hit(chunk, stored.name, fused[chunk.id] / best_possible, similarity.get(chunk.id, 0.0))
            for chunk in without_overlaps(relevant, k)
        ]


def _hit(chunk: StoredChunk, collection: str, score: float, similarity: float) -> SearchHit:
    return SearchHit(
        source=chunk.path, page=chunk.page, heading=chunk.heading, score=min(1.0, score),
        similarity=similarity, text=chunk.text, collection=collection, chunk_id=chunk.id,
    )  # fmt: skip
