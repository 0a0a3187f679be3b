"""Chunking by the embedder's own tokens, along paragraph and heading boundaries."""

from __future__ import annotations

import itertools
import random

import pytest

from reflexia.core.rag.chunker import Chunk, ChunkSizes, chunk_sections
from reflexia.core.rag.embedder import Embedder
from reflexia.core.rag.sections import DocumentSection
from tests.unit.test_rag_support import shared_embedder

WORDS = ("river", "mountain", "lantern", "copper", "orchard", "violin", "harbor", "meadow",
         "thunder", "pepper", "canyon", "marble", "glacier", "saddle", "beacon", "walnut")  # fmt: skip


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return shared_embedder()


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def paragraph(rng: random.Random, sentences: int) -> str:
    return " ".join(sentence(rng, rng.randint(6, 14)) for _ in range(sentences))


def covered(text: str, chunks: list[Chunk]) -> bool:
    """Every non-blank character of the section lies in some chunk."""
    marks = [False] * len(text)
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        for i in range(chunk.start, chunk.end):
            marks[i] = True
    return all(marks[i] or text[i].isspace() for i in range(len(text)))


def test_sizes_from_the_character_settings() -> None:
    assert ChunkSizes.from_settings(800, 120, max_tokens=254) == ChunkSizes(200, 30)
    assert ChunkSizes.from_settings(20_000, 10_000, max_tokens=254) == ChunkSizes(
        254, 127
    )  # the model's window
    assert ChunkSizes.from_settings(100, 0, max_tokens=254) == ChunkSizes(25, 0)
    with pytest.raises(ValueError, match="between 0 and half a chunk"):
        ChunkSizes(100, 60)


def test_chunks_fit_the_budget_measured_by_the_model(embedder: Embedder) -> None:
    rng = random.Random(1)
    text = "\n\n".join(paragraph(rng, rng.randint(1, 12)) for _ in range(30))
    sizes = ChunkSizes(120, 20)
    chunks = chunk_sections(
        [DocumentSection(text, page=4, heading="Field notes")], embedder, sizes, title="journal"
    )
    assert len(chunks) > 10
    measured = embedder.count_tokens([c.embedding_text for c in chunks])
    assert measured == [c.tokens for c in chunks]  # the chunker's own count is exact for this tokenizer
    assert max(measured) <= sizes.tokens
    assert all((c.page, c.heading, c.title) == (4, "Field notes", "journal") for c in chunks)
    assert chunks[0].embedding_text.startswith("journal › Field notes\n\n")
    assert covered(text, chunks)


def test_whole_paragraphs_stay_together(embedder: Embedder) -> None:
    rng = random.Random(2)
    paragraphs = [paragraph(rng, 3) for _ in range(12)]  # about 40 tokens each
    text = "\n\n".join(paragraphs)
    chunks = chunk_sections([DocumentSection(text)], embedder, ChunkSizes(150, 30))
    for chunk in chunks:
        parts = chunk.text.split("\n\n")
        assert all(part in paragraphs for part in parts), "a chunk ended inside a paragraph"
    assert all(b.start >= a.end for a, b in itertools.pairwise(chunks)), "no overlap at clean cuts"
    assert covered(text, chunks)


def test_a_long_paragraph_is_cut_between_sentences_with_overlap(embedder: Embedder) -> None:
    rng = random.Random(3)
    text = paragraph(rng, 40)
    sizes = ChunkSizes(100, 25)
    chunks = chunk_sections([DocumentSection(text)], embedder, sizes)
    assert len(chunks) >= 4
    for a, b in itertools.pairwise(chunks):
        assert b.start < a.end, "consecutive chunks of one paragraph share their cut"
        shared = embedder.count_tokens([text[b.start : a.end]])[0]
        assert 0 < shared <= sizes.overlap
        assert a.text.endswith(".") and b.text[0].isupper(), "cut between sentences"
    assert covered(text, chunks)


def test_a_sentence_longer_than_a_chunk_is_cut_between_tokens(embedder: Embedder) -> None:
    text = "minified" + "_x1y2" * 600  # one 'word' with no break anywhere
    chunks = chunk_sections([DocumentSection(text)], embedder, ChunkSizes(64, 8))
    assert len(chunks) > 5
    assert max(embedder.count_tokens([c.text for c in chunks])) <= 64
    assert covered(text, chunks)


def test_chunks_never_span_sections(embedder: Embedder) -> None:
    sections = [
        DocumentSection("Short intro.", page=1, heading="Intro"),
        DocumentSection("Page two text.", page=2, heading="Intro"),
        DocumentSection(paragraph(random.Random(4), 30), page=2, heading="Intro › Details"),
    ]
    chunks = chunk_sections(sections, embedder, ChunkSizes(80, 10))
    assert [(c.section, c.page, c.heading) for c in chunks[:2]] == [(0, 1, "Intro"), (1, 2, "Intro")]
    assert [c.text for c in chunks[:2]] == ["Short intro.", "Page two text."]
    assert {c.section for c in chunks[2:]} == {2}
    assert all(sections[c.section].text[c.start : c.end] == c.text for c in chunks)


def test_code_is_cut_between_lines(embedder: Embedder) -> None:
    text = "\n".join(f"def function_{i}(value):  return value * {i}" for i in range(80))
    chunks = chunk_sections([DocumentSection(text)], embedder, ChunkSizes(60, 0))
    assert all(c.text.startswith("def ") and c.text.endswith(tuple("0123456789")) for c in chunks)
    assert covered(text, chunks)
