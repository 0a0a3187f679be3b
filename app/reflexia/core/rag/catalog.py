"""The index's own records in SQLite: collections, documents, chunks and their keyword index.

This file is the truth about what is indexed. A document is written in two steps: its row
and its chunks go in as ``pending`` (invisible to search), its vectors are added to the
vector store, and only then does one transaction mark it ``ready`` and retire the version
it replaces. A process killed at any moment therefore leaves each document either ready
with all its chunks, or pending; :meth:`DocumentCatalog.leftovers` names what a killed
writer left, so the next writer removes it. Vectors of retired documents are listed in
``retired`` until the vector store has dropped them.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from reflexia.core.rag.chunker import Chunk
from reflexia.core.rag.errors import DocumentIndexError

#: ``PRAGMA application_id`` of a Reflexia document index ("RFLD"), so another program's file is refused.
APPLICATION_ID = 0x52464C44
SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 10.0
#: Most chunks a keyword query scores (see ``keyword_matches``): about 15 ms at 100k chunks here.
MAX_SCORED_CHUNKS = 10_000

_SCHEMA = (
    """CREATE TABLE collections (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        embeddings_model TEXT NOT NULL,
        created_at REAL NOT NULL
    )""",
    # AUTOINCREMENT everywhere: ids name vectors in the other store, so one is never given out twice.
    """CREATE TABLE documents (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        collection_id INTEGER NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
        path TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        kind TEXT NOT NULL,
        pages INTEGER,
        chunk_count INTEGER NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'ready')),
        indexed_at REAL NOT NULL
    )""",
    "CREATE UNIQUE INDEX one_ready_version ON documents (collection_id, path) WHERE state = 'ready'",
    """CREATE TABLE chunks (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        document_id INTEGER NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
        ordinal INTEGER NOT NULL,
        section INTEGER NOT NULL,
        start_char INTEGER NOT NULL,
        end_char INTEGER NOT NULL,
        page INTEGER,
        heading TEXT NOT NULL,
        context TEXT NOT NULL,
        text TEXT NOT NULL,
        text_hash TEXT NOT NULL
    )""",
    "CREATE INDEX chunks_of_document ON chunks (document_id, ordinal)",
    # Keywords of each chunk and of its context (the document's title and the headings above it).
    """CREATE VIRTUAL TABLE chunk_words USING fts5(
        context, text, content = 'chunks', content_rowid = 'id',
        tokenize = 'porter unicode61 remove_diacritics 2'
    )""",
    """CREATE TRIGGER chunk_words_added AFTER INSERT ON chunks BEGIN
        INSERT INTO chunk_words (rowid, context, text) VALUES (new.id, new.context, new.text);
    END""",
    """CREATE TRIGGER chunk_words_removed AFTER DELETE ON chunks BEGIN
        INSERT INTO chunk_words (chunk_words, rowid, context, text)
        VALUES ('delete', old.id, old.context, old.text);
    END""",
    # Vectors still to be dropped from the vector store: a whole collection when document_id is NULL.
    """CREATE TABLE retired (
        id INTEGER PRIMARY KEY,
        collection_id INTEGER NOT NULL,
        document_id INTEGER
    )""",
    # Files an indexing run was asked for and has not finished: the next run resumes them.
    """CREATE TABLE queue (
        collection_id INTEGER NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
        path TEXT NOT NULL,
        queued_at REAL NOT NULL,
        PRIMARY KEY (collection_id, path)
    )""",
)


@dataclass(frozen=True)
class FileVersion:
    """A file as it was when it was read: what tells a changed file from an unchanged one."""

    path: Path
    size: int
    mtime_ns: int
    content_hash: str


@dataclass(frozen=True)
class StoredCollection:
    """A collection as recorded: its id names its vectors."""

    id: int
    name: str
    embeddings_model: str


@dataclass(frozen=True)
class StoredDocument:
    """A ready document as recorded."""

    id: int
    collection_id: int
    path: Path
    content_hash: str
    size: int
    mtime_ns: int
    kind: str
    pages: int | None
    chunk_count: int
    indexed_at: float


@dataclass(frozen=True)
class StoredChunk:
    """A chunk of a ready document, with where it came from."""

    id: int
    document_id: int
    path: Path
    ordinal: int
    section: int
    start: int
    end: int
    page: int | None
    heading: str | None
    text: str
    text_hash: str


@dataclass(frozen=True)
class Leftover:
    """Vectors a killed writer may have left: one document's, or a whole collection's (no ``document_id``)."""

    collection_id: int
    document_id: int | None


def match_any(terms: Sequence[str]) -> str:
    """An FTS5 query matching any of ``terms`` (each quoted, so none is taken for FTS5 syntax)."""
    return " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)


def _refuse(path: Path, reason: str) -> DocumentIndexError:
    return DocumentIndexError(f"{path}: cannot open the document index: {reason}")


def _document(row: sqlite3.Row) -> StoredDocument:
    return StoredDocument(
        id=row["id"], collection_id=row["collection_id"], path=Path(row["path"]),
        content_hash=row["content_hash"], size=row["size"], mtime_ns=row["mtime_ns"], kind=row["kind"],
        pages=row["pages"], chunk_count=row["chunk_count"], indexed_at=row["indexed_at"],
    )  # fmt: skip


class DocumentCatalog:
    """The SQLite half of the document index (the vector store is the other).

    Threads: one connection shared under the caller's lock (``check_same_thread`` is off so
    the index may be handed from the thread that opened it to its worker).
    """

    def __init__(self, path: Path) -> None:
        """Open (or create) the catalog file.

        Raises:
            DocumentIndexError: the file cannot be opened, belongs to another program or a newer Reflexia.
        """
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as exc:
            raise _refuse(path, str(exc)) from exc
        self._db.row_factory = sqlite3.Row
        try:
            self._prepare()
        except sqlite3.Error as exc:
            self._db.close()
            raise _refuse(path, str(exc)) from exc
        except DocumentIndexError:
            self._db.close()
            raise

    def _prepare(self) -> None:
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        application_id = int(self._db.execute("PRAGMA application_id").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise _refuse(
                self.path, f"it was written by a newer Reflexia (schema {version}); update Reflexia"
            )
        if application_id not in (0, APPLICATION_ID) or (
            version == 0 and self._db.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone() is not None
        ):
            raise _refuse(self.path, "it is another program's database")
        self._db.execute("PRAGMA foreign_keys = ON")
        self._db.execute("PRAGMA journal_mode = WAL")
        # In WAL mode NORMAL loses no committed transaction when the process is killed, only on power loss.
        self._db.execute("PRAGMA synchronous = NORMAL")
        if version == 0:
            with self.transaction():
                for statement in _SCHEMA:
                    self._db.execute(statement)
                self._db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        """Close the file; everything is already committed."""
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All the statements in the block, or none of them."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def execute(self, sql: str, parameters: Sequence[object] = ()) -> sqlite3.Cursor:
        """Run one statement on its own (autocommit)."""
        return self._db.execute(sql, parameters)

    # Collections -------------------------------------------------------------------------------

    def collection(self, name: str) -> StoredCollection | None:
        """The collection called ``name``, if there is one."""
        row = self._db.execute(
            "SELECT id, name, embeddings_model FROM collections WHERE name = ?", (name,)
        ).fetchone()
        return StoredCollection(row["id"], row["name"], row["embeddings_model"]) if row else None

    def add_collection(self, name: str, embeddings_model: str) -> StoredCollection:
        """Create the collection ``name``, whose vectors come from ``embeddings_model``."""
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT INTO collections (name, embeddings_model, created_at) VALUES (?, ?, ?)",
                (name, embeddings_model, time.time()),
            )
        return StoredCollection(int(cursor.lastrowid or 0), name, embeddings_model)

    def collection_counts(self) -> list[tuple[StoredCollection, int, int]]:
        """Every collection with its number of ready documents and chunks, by name."""
        rows = self._db.execute(
            """SELECT c.id, c.name, c.embeddings_model, COUNT(d.id) AS documents,
                      COALESCE(SUM(d.chunk_count), 0) AS chunks
               FROM collections c LEFT JOIN documents d ON d.collection_id = c.id AND d.state = 'ready'
               GROUP BY c.id ORDER BY c.name COLLATE NOCASE"""
        ).fetchall()
        return [
            (StoredCollection(r["id"], r["name"], r["embeddings_model"]), r["documents"], r["chunks"])
            for r in rows
        ]

    def retire_collection(self, collection: StoredCollection) -> tuple[int, int]:
        """Delete a collection's records and list its vectors as retired; returns (documents, chunks)."""
        with self.transaction() as db:
            documents, chunks = db.execute(
                "SELECT COUNT(*), COALESCE(SUM(chunk_count), 0) FROM documents WHERE collection_id = ? "
                "AND state = 'ready'",
                (collection.id,),
            ).fetchone()
            db.execute("INSERT INTO retired (collection_id, document_id) VALUES (?, NULL)", (collection.id,))
            db.execute("DELETE FROM collections WHERE id = ?", (collection.id,))
        return int(documents), int(chunks)

    # Documents ---------------------------------------------------------------------------------

    def ready_document(self, collection_id: int, path: Path) -> StoredDocument | None:
        """The indexed version of ``path`` in a collection, if any."""
        row = self._db.execute(
            "SELECT * FROM documents WHERE collection_id = ? AND path = ? AND state = 'ready'",
            (collection_id, str(path)),
        ).fetchone()
        return _document(row) if row else None

    def ready_documents(
        self, collection_id: int | None = None, under: Path | None = None
    ) -> list[StoredDocument]:
        """Ready documents of one collection (or all), optionally only ``under`` a file or folder, by path."""
        sql = "SELECT * FROM documents WHERE state = 'ready'"
        parameters: list[object] = []
        if collection_id is not None:
            sql += " AND collection_id = ?"
            parameters.append(collection_id)
        if under is not None:
            # The file itself, or anything in the folder (a prefix that ends at a separator).
            sql += " AND (path = ? OR substr(path, 1, ?) = ?)"
            prefix = str(under).rstrip("/\\") + "/"
            parameters += [str(under), len(prefix), prefix]
        return [_document(row) for row in self._db.execute(sql + " ORDER BY path", parameters)]

    def chunk_count(self, document_id: int) -> int:
        """How many chunks of a document are stored."""
        return int(
            self._db.execute("SELECT COUNT(*) FROM chunks WHERE document_id = ?", (document_id,)).fetchone()[
                0
            ]
        )

    def note_unchanged(self, document: StoredDocument, mtime_ns: int) -> None:
        """Remember a new modification time of a file whose content did not change (next time: no hashing)."""
        self._db.execute("UPDATE documents SET mtime_ns = ? WHERE id = ?", (mtime_ns, document.id))

    def add_pending(
        self, collection_id: int, version: FileVersion, kind: str, pages: int | None,
        chunks: Sequence[tuple[Chunk, str]],
    ) -> tuple[int, list[int]]:  # fmt: skip
        """Record a new version of a document and its chunks, invisible to search until committed.

        Args:
            collection_id: The collection it goes into.
            version: The file as it was read.
            kind: What sort of document it is (``pdf``, ``markdown``...).
            pages: Its page count, if it has pages.
            chunks: Each chunk with the hash of its text.

        Returns:
            The document's id and its chunks' ids, in order.
        """
        with self.transaction() as db:
            cursor = db.execute(
                """INSERT INTO documents (collection_id, path, content_hash, size, mtime_ns, kind, pages,
                       chunk_count, state, indexed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)""",
                (collection_id, str(version.path), version.content_hash, version.size, version.mtime_ns,
                 kind, pages, len(chunks), time.time()),
            )  # fmt: skip
            document_id = int(cursor.lastrowid or 0)
            ids = []
            for ordinal, (chunk, text_hash) in enumerate(chunks):
                cursor = db.execute(
                    """INSERT INTO chunks (document_id, ordinal, section, start_char, end_char, page, heading,
                           context, text, text_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    (document_id, ordinal, chunk.section, chunk.start, chunk.end, chunk.page,
                     chunk.heading or "", chunk.context, chunk.text, text_hash),
                )  # fmt: skip
                ids.append(int(cursor.lastrowid or 0))
        return document_id, ids

    def commit_document(self, document_id: int, collection_id: int, path: Path, replaces: int | None) -> None:
        """Make a pending document searchable, retire the version it replaces, and take it off the queue."""
        with self.transaction() as db:
            if replaces is not None:
                db.execute(
                    "INSERT INTO retired (collection_id, document_id) VALUES (?, ?)",
                    (collection_id, replaces),
                )
                db.execute("DELETE FROM documents WHERE id = ?", (replaces,))
            db.execute(
                "UPDATE documents SET state = 'ready', indexed_at = ? WHERE id = ?",
                (time.time(), document_id),
            )
            db.execute("DELETE FROM queue WHERE collection_id = ? AND path = ?", (collection_id, str(path)))

    def drop_pending(self, document_id: int) -> None:
        """Forget a document that was never committed (its vectors must already be gone)."""
        self._db.execute("DELETE FROM documents WHERE id = ? AND state = 'pending'", (document_id,))

    def retire_documents(self, documents: Sequence[StoredDocument]) -> None:
        """Delete documents' records and list their vectors as retired."""
        with self.transaction() as db:
            for document in documents:
                db.execute(
                    "INSERT INTO retired (collection_id, document_id) VALUES (?, ?)",
                    (document.collection_id, document.id),
                )
                db.execute("DELETE FROM documents WHERE id = ?", (document.id,))

    def leftovers(self) -> list[Leftover]:
        """Vectors that may exist without a ready document: pending documents' and retired ones'."""
        pending = self._db.execute(
            "SELECT collection_id, id FROM documents WHERE state = 'pending'"
        ).fetchall()
        retired = self._db.execute("SELECT collection_id, document_id FROM retired").fetchall()
        return [Leftover(row[0], row[1]) for row in [*pending, *retired]]

    def clear_leftover(self, leftover: Leftover) -> None:
        """Forget a leftover whose vectors the vector store has dropped."""
        if leftover.document_id is None:
            self._db.execute(
                "DELETE FROM retired WHERE collection_id = ? AND document_id IS NULL",
                (leftover.collection_id,),
            )
            return
        with self.transaction() as db:
            db.execute("DELETE FROM retired WHERE document_id = ?", (leftover.document_id,))
            db.execute("DELETE FROM documents WHERE id = ? AND state = 'pending'", (leftover.document_id,))

    # The queue of files to index ---------------------------------------------------------------

    def enqueue(self, collection_id: int, paths: Sequence[Path]) -> None:
        """Remember that these files are to be indexed, so a run cut short resumes them."""
        now = time.time()
        with self.transaction() as db:
            db.executemany(
                "INSERT OR IGNORE INTO queue (collection_id, path, queued_at) VALUES (?, ?, ?)",
                [(collection_id, str(path), now) for path in paths],
            )

    def dequeue(self, collection_id: int, path: Path) -> None:
        """A file is done with (indexed, unchanged or failed)."""
        self._db.execute("DELETE FROM queue WHERE collection_id = ? AND path = ?", (collection_id, str(path)))

    def queued(self) -> list[tuple[str, Path]]:
        """Files still to be indexed, as (collection name, path), oldest first."""
        rows = self._db.execute(
            "SELECT c.name, q.path FROM queue q JOIN collections c ON c.id = q.collection_id "
            "ORDER BY q.queued_at, q.rowid"
        ).fetchall()
        return [(row[0], Path(row[1])) for row in rows]

    # Chunks for search -------------------------------------------------------------------------

    def ready_chunks(self, ids: Sequence[int]) -> dict[int, StoredChunk]:
        """The chunks among ``ids`` that belong to ready documents (others are pending or retired)."""
        found: dict[int, StoredChunk] = {}
        for start in range(0, len(ids), 500):  # SQLite limits the number of parameters
            batch = list(ids[start : start + 500])
            rows = self._db.execute(
                f"""SELECT c.*, d.path FROM chunks c JOIN documents d ON d.id = c.document_id
                    WHERE d.state = 'ready' AND c.id IN ({",".join("?" * len(batch))})""",
                batch,
            ).fetchall()
            for r in rows:
                found[r["id"]] = StoredChunk(
                    id=r["id"], document_id=r["document_id"], path=Path(r["path"]), ordinal=r["ordinal"],
                    section=r["section"], start=r["start_char"], end=r["end_char"], page=r["page"],
                    heading=r["heading"] or None, text=r["text"], text_hash=r["text_hash"],
                )  # fmt: skip
        return found

    def keyword_matches(self, collection_id: int, terms: Sequence[str], limit: int) -> list[int]:
        """Chunk ids of a collection's ready documents best matching any of ``terms``, best first (BM25).

        BM25 scores every chunk that holds any term, so a term found in most chunks would make
        a query slow while adding almost nothing to the ranking (its weight is near zero). Terms
        are therefore taken rarest first, as long as the chunks to score stay within
        ``MAX_SCORED_CHUNKS`` (the rarest term is always taken).
        """
        counted: list[tuple[int, str]] = []
        for term in terms:
            found = self._db.execute(
                "SELECT COUNT(*) FROM chunk_words WHERE chunk_words MATCH ?", (match_any([term]),)
            ).fetchone()[0]
            if found:
                counted.append((int(found), term))
        chosen: list[str] = []
        total = 0
        for found, term in sorted(counted):
            if chosen and total + found > MAX_SCORED_CHUNKS:
                break
            chosen.append(term)
            total += found
        if not chosen:
            return []
        rows = self._db.execute(
            """SELECT chunk_words.rowid FROM chunk_words
               JOIN chunks ON chunks.id = chunk_words.rowid
               JOIN documents d ON d.id = chunks.document_id
               WHERE chunk_words MATCH ? AND d.collection_id = ? AND d.state = 'ready'
               ORDER BY bm25(chunk_words) LIMIT ?""",
            (match_any(chosen), collection_id, limit),
        ).fetchall()
        return [int(row[0]) for row in rows]
