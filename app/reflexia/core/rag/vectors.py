"""The vector half of the document index: ChromaDB's ``PersistentClient`` in the index folder.

One Chroma collection per Reflexia collection, named after its catalog id (names people give
collections may hold any character; Chroma's may not). A vector's id is its chunk's id in the
catalog and its metadata names its document, so one document's vectors can be dropped at once.
ChromaDB is imported when the store is opened, never at start-up.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from reflexia.core.rag.embedder import Vectors
from reflexia.core.rag.errors import DocumentIndexError

if TYPE_CHECKING:
    from chromadb.api.models.Collection import Collection


def _chroma_name(collection_id: int) -> str:
    return f"reflexia-{collection_id}"


class VectorStore:
    """Chunk vectors by collection, searched by cosine similarity."""

    def __init__(self, folder: Path) -> None:
        """Open (or create) the store in ``folder``.

        Raises:
            DocumentIndexError: ChromaDB cannot open the folder.
        """
        try:
            import chromadb
            from chromadb.config import Settings

            self._client = chromadb.PersistentClient(
                path=str(folder), settings=Settings(anonymized_telemetry=False)
            )
        except Exception as exc:  # Chroma's errors have no common base; all mean the store is unusable
            raise DocumentIndexError(f"{folder}: cannot open the vector store: {exc}") from exc
        self._collections: dict[int, Collection] = {}

    def _collection(self, collection_id: int, *, create: bool) -> Collection | None:
        found = self._collections.get(collection_id)
        if found is not None:
            return found
        try:
            if create:
                found = self._client.get_or_create_collection(
                    _chroma_name(collection_id),
                    embedding_function=None,
                    configuration={"hnsw": {"space": "cosine"}},
                )
            else:
                found = self._client.get_collection(_chroma_name(collection_id), embedding_function=None)
        except Exception as exc:
            if not create:
                return None  # never created: a collection whose first document failed
            raise DocumentIndexError(f"cannot create a collection in the vector store: {exc}") from exc
        self._collections[collection_id] = found
        return found

    def add(self, collection_id: int, document_id: int, chunk_ids: Sequence[int], vectors: Vectors) -> None:
        """Store one document's chunk vectors (again, harmlessly, if they are already there)."""
        collection = self._collection(collection_id, create=True)
        assert collection is not None
        metadata: dict[str, Any] = {"document_id": document_id}
        try:
            collection.upsert(
                ids=[str(i) for i in chunk_ids], embeddings=vectors, metadatas=[metadata] * len(chunk_ids)
            )
        except Exception as exc:
            raise DocumentIndexError(f"cannot write to the vector store: {exc}") from exc

    def drop_document(self, collection_id: int, document_id: int) -> None:
        """Delete one document's vectors, if there are any."""
        collection = self._collection(collection_id, create=False)
        if collection is None:
            return
        try:
            collection.delete(where={"document_id": document_id})
        except Exception as exc:
            raise DocumentIndexError(f"cannot delete from the vector store: {exc}") from exc

    def drop_collection(self, collection_id: int) -> None:
        """Delete a whole collection's vectors, if it has any."""
        self._collections.pop(collection_id, None)
        try:
            names = {c.name for c in self._client.list_collections()}
            if _chroma_name(collection_id) in names:
                self._client.delete_collection(_chroma_name(collection_id))
        except Exception as exc:
            raise DocumentIndexError(f"cannot delete a collection from the vector store: {exc}") from exc

    def nearest(self, collection_id: int, query: Vectors, count: int) -> list[tuple[int, float]]:
        """The ``count`` chunks nearest a unit query vector: (chunk id, cosine similarity), best first."""
        collection = self._collection(collection_id, create=False)
        if collection is None:
            return []
        try:  # Chroma returns fewer when the collection holds fewer
            found = collection.query(
                query_embeddings=query.reshape(1, -1), n_results=count, include=["distances"]
            )
        except Exception as exc:
            raise DocumentIndexError(f"cannot search the vector store: {exc}") from exc
        distances = (found["distances"] or [[]])[0]
        return [(int(i), 1.0 - float(d)) for i, d in zip(found["ids"][0], distances, strict=True)]

    def vectors(self, collection_id: int, chunk_ids: Sequence[int]) -> dict[int, Vectors]:
        """The stored vectors of some chunks (those that have one)."""
        collection = self._collection(collection_id, create=False)
        if collection is None or not chunk_ids:
            return {}
        try:
            found = collection.get(ids=[str(i) for i in chunk_ids], include=["embeddings"])
        except Exception as exc:
            raise DocumentIndexError(f"cannot read the vector store: {exc}") from exc
        embeddings = found["embeddings"]
        if embeddings is None:
            return {}
        return {
            int(i): np.asarray(v, dtype=np.float32) for i, v in zip(found["ids"], embeddings, strict=True)
        }

    def count(self, collection_id: int, document_id: int | None = None) -> int:
        """How many vectors a collection (or one of its documents) has."""
        collection = self._collection(collection_id, create=False)
        if collection is None:
            return 0
        if document_id is None:
            return int(collection.count())
        return len(collection.get(where={"document_id": document_id}, include=[])["ids"])
