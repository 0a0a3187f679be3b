"""Retrieval quality on text nobody here wrote: Python's standard-library module docstrings.

Each module's docstring body is a document named after the module; its summary sentence is the
query. The hybrid ranking must find the right document in its first five hits for at least 90% of
the queries, and do at least as well as either ranking alone. ``benchmarks/rag.py`` prints the
full table (recall@1 and @5 of all three).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reflexia.core.rag.evaluation import stdlib_retrieval_set, write_documents
from reflexia.core.rag.index import DocumentIndex, Ranking
from tests.unit.test_rag_support import shared_embedder

CASES = 150


@pytest.fixture(scope="module")
def stdlib_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DocumentIndex, dict[str, Path]]]:
    folder = tmp_path_factory.mktemp("stdlib")
    cases = stdlib_retrieval_set(CASES)
    files = write_documents(cases, folder / "docs")
    with DocumentIndex(folder / "vectordb", shared_embedder()) as index:
        summary = index.index_paths([folder / "docs"], "stdlib")
        assert len(summary.indexed) == len(cases) and not summary.failed
        yield index, {case.query: files[case.module] for case in cases}


def recall_at_5(index: DocumentIndex, queries: dict[str, Path], ranking: Ranking) -> float:
    found = sum(
        1
        for query, target in queries.items()
        if target in {h.source for h in index.search(query, "stdlib", 5, ranking=ranking)}
    )
    return found / len(queries)


def test_hybrid_recall_at_5_is_at_least_90_percent(
    stdlib_index: tuple[DocumentIndex, dict[str, Path]],
) -> None:
    index, queries = stdlib_index
    assert len(queries) >= 120, "the standard library should give well over a hundred cases"
    hybrid = recall_at_5(index, queries, "hybrid")
    vector = recall_at_5(index, queries, "vector")
    keyword = recall_at_5(index, queries, "keyword")
    print(
        f"recall@5, {len(queries)} queries: hybrid {hybrid:.3f}, vector {vector:.3f}, keyword {keyword:.3f}"
    )
    assert hybrid >= 0.9
    assert hybrid >= max(vector, keyword)
