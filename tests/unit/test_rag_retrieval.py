"""Ranking policy without a model: the keyword query, weighted reciprocal-rank fusion, de-duplication."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from reflexia.core.rag.catalog import DocumentCatalog, FileVersion, StoredChunk, match_any
from reflexia.core.rag.chunker import Chunk
from reflexia.core.rag.retrieval import KEYWORD_WEIGHT, RRF_K, fuse, keyword_terms, without_overlaps


def chunk(
    number: int, document: int = 1, section: int = 0, start: int = 0, end: int = 10, text: str = ""
) -> StoredChunk:
    return StoredChunk(
        id=number, document_id=document, path=Path(f"/docs/{document}.txt"), ordinal=number,
        section=section, start=start, end=end, page=None, heading=None, text=text or f"text {number}",
        text_hash=text or f"hash {number}",
    )  # fmt: skip


def test_keyword_terms_drop_common_words_and_repeats() -> None:
    assert keyword_terms("What is the boiling point of water? Water!") == ["boiling", "point", "water"]
    assert keyword_terms("error 404 on page 2") == ["error", "404", "page", "2"]
    assert keyword_terms("the of and ?") == []


def test_any_text_makes_a_valid_fts5_query() -> None:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(text, tokenize = 'porter unicode61 remove_diacritics 2')")
    db.execute("INSERT INTO t VALUES ('Boiling water at sea level: 100 degrees')")
    for hostile in (
        '"unbalanced',
        "a:b col:umn",
        "x* ^y {z}",
        "(((",
        "OR AND NOT",
        "NEAR(a b)",
        "-not *star",
    ):
        terms = keyword_terms(hostile)
        if terms:
            db.execute(
                "SELECT rowid FROM t WHERE t MATCH ?", (match_any(terms),)
            ).fetchall()  # never an error
    assert match_any(['say "hi"']) == '"say ""hi"""'
    assert db.execute(
        "SELECT rowid FROM t WHERE t MATCH ?", (match_any(keyword_terms("boils")),)
    ).fetchall() == [(1,)]


def test_fusion_rewards_agreement_and_weighs_keywords_less() -> None:
    scores = fuse([([1, 2, 3], 1.0), ([3, 4], KEYWORD_WEIGHT)])
    assert scores[1] == pytest.approx(1 / (RRF_K + 1))
    assert scores[3] == pytest.approx(1 / (RRF_K + 3) + KEYWORD_WEIGHT / (RRF_K + 1))
    assert max(scores, key=scores.__getitem__) == 3  # found by both
    assert scores[4] < scores[2]  # second by keywords alone counts less than second by meaning


def test_overlapping_neighbours_and_identical_text_are_left_out() -> None:
    ranked = [
        chunk(1, start=0, end=100),
        chunk(2, start=80, end=180),  # overlaps chunk 1 in the same section
        chunk(3, section=1, start=0, end=100),  # another section of the same document
        chunk(4, document=2, text="same words", start=0, end=50),
        chunk(5, document=3, text="same words", start=0, end=50),  # a copy in another file
        chunk(6, start=100, end=200),  # touches chunk 1 but shares nothing
    ]
    assert [c.id for c in without_overlaps(ranked, 10)] == [1, 3, 4, 6]
    assert [c.id for c in without_overlaps(ranked, 2)] == [1, 3]


def test_keyword_search_skips_the_commonest_terms_when_they_would_be_slow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = DocumentCatalog(tmp_path / "documents.sqlite3")
    collection = catalog.add_collection("notes", "all-MiniLM-L6-v2")
    texts = [f"common words in note {n}" for n in range(30)] + ["common words and one rare zeppelin"]
    chunks = [(Chunk(text, None, None, 0, 0, len(text), 5), f"hash {n}") for n, text in enumerate(texts)]
    document, ids = catalog.add_pending(
        collection.id, FileVersion(tmp_path / "a.txt", 1, 1, "h"), "text", None, chunks
    )
    assert catalog.keyword_matches(collection.id, ["zeppelin"], 10) == []  # pending: not searchable yet
    catalog.commit_document(document, collection.id, tmp_path / "a.txt", replaces=None)
    assert len(catalog.keyword_matches(collection.id, ["common", "zeppelin"], 50)) == 31
    monkeypatch.setattr("reflexia.core.rag.catalog.MAX_SCORED_CHUNKS", 10)
    assert catalog.keyword_matches(collection.id, ["common", "zeppelin"], 50) == [ids[-1]]  # rarest first
    assert len(catalog.keyword_matches(collection.id, ["common"], 50)) == 31  # the rarest is always taken
    catalog.close()
