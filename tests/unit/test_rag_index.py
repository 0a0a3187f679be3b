"""The document index on real files: indexing, skipping, replacing, removing, searching, resuming."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from reflexia.core.rag.embedder import Embedder
from reflexia.core.rag.errors import DocumentIndexError
from reflexia.core.rag.index import DocumentIndex
from reflexia.core.rag.retrieval import overlaps
from reflexia.core.rag.values import IndexProgress, IndexSummary
from tests.unit.test_rag_support import shared_embedder, write_docx, write_pdf

GARDEN = """# Garden

## Tomatoes

Water tomato plants deeply twice a week, in the early morning, so the leaves dry before evening.
Mulch keeps the soil moist between waterings.

## Roses

Prune roses in late winter, just above an outward-facing bud.
"""
SKY = ["Telescopes for beginners: start with binoculars.", "Saturn has bright rings made of ice and rock."]
KITCHEN = [
    ("title", "Kitchen"),
    ("h1", "Bread"),
    ("p", "Sourdough needs a starter fed with flour and water."),
]


@pytest.fixture
def index(tmp_path: Path) -> Iterator[DocumentIndex]:
    with DocumentIndex(tmp_path / "vectordb", shared_embedder(), chunk_characters=(400, 60)) as opened:
        yield opened


@pytest.fixture
def library(tmp_path: Path) -> Path:
    folder = tmp_path / "library"
    folder.mkdir()
    (folder / "garden.md").write_text(GARDEN, encoding="utf-8")
    write_pdf(folder / "sky.pdf", SKY)
    write_docx(folder / "kitchen.docx", KITCHEN)
    return folder


def healthy(index: DocumentIndex) -> None:
    health = index.check()
    assert health.problems == ()
    assert health.leftovers == 0


def test_indexed_documents_are_found_with_their_location(index: DocumentIndex, library: Path) -> None:
    summary = index.index_paths([library], "home")
    assert sorted(p.name for p in summary.indexed) == ["garden.md", "kitchen.docx", "sky.pdf"]
    assert (summary.skipped, summary.failed, summary.cancelled) == ((), (), False)
    assert summary.chunks == sum(c.chunks for c in index.collections())

    tomato = index.search("how often should I water tomatoes?", "home", k=2)[0]
    assert (tomato.source, tomato.page, tomato.heading) == (library / "garden.md", None, "Garden › Tomatoes")
    assert "twice a week" in tomato.text
    assert 0 < tomato.score <= 1 and tomato.similarity > 0.3

    saturn = index.search("what are the rings of Saturn made of", "home", k=1)[0]
    assert (saturn.source.name, saturn.page) == ("sky.pdf", 2)
    bread = index.search("feeding a sourdough starter", "home", k=1)[0]
    assert (bread.source.name, bread.heading) == ("kitchen.docx", "Kitchen › Bread")
    healthy(index)


def test_unchanged_files_cost_nothing_and_changed_files_replace_their_chunks(
    index: DocumentIndex, library: Path
) -> None:
    index.index_paths([library], "home")
    again = index.index_paths([library], "home")
    assert (len(again.indexed), len(again.skipped), again.chunks) == (0, 3, 0)

    garden = library / "garden.md"
    os.utime(garden, ns=(garden.stat().st_atime_ns, garden.stat().st_mtime_ns + 10**9))  # touched, same bytes
    assert index.index_paths([garden], "home").skipped == (garden,)

    garden.write_text(GARDEN.replace("twice a week", "every evening with rainwater"), encoding="utf-8")
    changed = index.index_paths([garden], "home")
    assert changed.indexed == (garden,)
    assert [d.chunks for d in index.documents("home") if d.path == garden] == [changed.chunks]
    texts = " ".join(hit.text for hit in index.search("watering tomatoes", "home", k=4))
    assert "rainwater" in texts and "twice a week" not in texts
    assert index.collections()[0].documents == 3
    healthy(index)


def test_collections_are_separate(index: DocumentIndex, library: Path) -> None:
    index.index_paths([library / "garden.md"], "home")
    index.index_paths([library / "sky.pdf", library / "garden.md"], "work")
    assert [(c.name, c.documents) for c in index.collections()] == [("home", 1), ("work", 2)]
    assert {h.source.name for h in index.search("rings of Saturn", "home", k=4)} <= {"garden.md"}
    assert {d.path.name for d in index.documents("work")} == {"sky.pdf", "garden.md"}
    with pytest.raises(DocumentIndexError, match="no document collection named 'school'"):
        index.search("anything", "school")
    with pytest.raises(DocumentIndexError, match="collection name"):
        index.index_paths([library], " padded ")


def test_remove_a_document_a_folder_or_a_collection(index: DocumentIndex, library: Path) -> None:
    index.index_paths([library], "home")
    index.index_paths([library / "sky.pdf"], "work")
    removed = index.remove(path=library / "sky.pdf", collection="home")
    assert removed.documents == 1
    assert {d.path.name for d in index.documents("home")} == {"garden.md", "kitchen.docx"}
    assert [d.path.name for d in index.documents("work")] == ["sky.pdf"]
    assert index.remove(path=library).documents == 3  # the folder, in every collection
    with pytest.raises(DocumentIndexError, match="is not indexed"):
        index.remove(path=library / "garden.md")
    index.index_paths([library / "garden.md"], "home")
    assert index.remove(collection="home").documents == 1
    assert [c.name for c in index.collections()] == ["work"]
    healthy(index)


def test_a_bad_batch_indexes_the_rest_and_keeps_what_was_indexed(index: DocumentIndex, library: Path) -> None:
    index.index_paths([library], "home")
    (library / "empty.txt").write_bytes(b"")
    (library / "binary.md").write_bytes(bytes(range(256)) * 4)
    write_pdf(library / "scan.pdf", [None])
    write_pdf(library / "locked.pdf", ["secret"], user_password="pw")
    (library / "broken.docx").write_bytes(b"PK\x03\x04 damaged")
    (library / "new.txt").write_text(
        "Compost turns kitchen scraps into soil in a few months.", encoding="utf-8"
    )
    (library / "garden.md").write_bytes(b"\x00\x01 overwritten by a binary blob")  # indexed before: kept
    summary = index.index_paths([library, library / "missing.txt"], "home")
    assert summary.indexed == (library / "new.txt",)
    assert {p.name for p in summary.skipped} == {"sky.pdf", "kitchen.docx"}
    reasons = {f.path.name: (f.problem, f.error) for f in summary.failed}
    assert {name: problem for name, (problem, _) in reasons.items()} == {
        "missing.txt": "missing", "empty.txt": "empty", "binary.md": "binary", "scan.pdf": "no_text",
        "locked.pdf": "encrypted", "broken.docx": "broken", "garden.md": "binary",
    }  # fmt: skip
    assert len({error for _, error in reasons.values()}) >= 6  # each its own message
    assert {d.path.name for d in index.documents("home")} == {
        "garden.md",
        "sky.pdf",
        "kitchen.docx",
        "new.txt",
    }
    assert index.search("watering tomatoes", "home", k=1)[0].source.name == "garden.md"
    healthy(index)


def test_a_file_that_vanishes_mid_batch_fails_alone(index: DocumentIndex, tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    for name in ("a.txt", "b.txt", "c.txt"):
        (folder / name).write_text(f"Note {name} about migrating birds and their routes.", encoding="utf-8")
    runs = index.index_files([folder], "notes")
    first = next(runs)
    assert first.current == folder / "a.txt"
    (folder / "b.txt").unlink()
    last = list(runs)[-1].summary
    assert last is not None
    assert {p.name for p in last.indexed} == {"a.txt", "c.txt"}
    assert [(f.path.name, f.problem) for f in last.failed] == [("b.txt", "vanished")]
    assert "no longer there" in (last.failed[0].error or "")
    healthy(index)


def test_progress_counts_files_chunks_rate_and_time_left(index: DocumentIndex, library: Path) -> None:
    progress = list(index.index_files([library], "home"))
    outcomes = [p.outcome for p in progress if p.outcome is not None]
    assert len(outcomes) == 3 and all(p.files_total == 3 for p in progress)
    assert [p.files_done for p in progress if p.outcome] == [1, 2, 3]
    final = progress[-1]
    assert isinstance(final.summary, IndexSummary)
    assert final.chunks_done == final.summary.chunks > 0
    assert final.chunks_per_s > 0 and final.seconds_left == 0


def test_cancel_stops_between_files_and_the_rest_resumes(index: DocumentIndex, library: Path) -> None:
    index.index_paths([library / "garden.md"], "home")
    files = sorted(library.iterdir())  # garden.md (unchanged), kitchen.docx, sky.pdf
    cancel = threading.Event()
    progress: list[IndexProgress] = []
    for step in index.index_files(files, "home", cancel=cancel):
        progress.append(step)
        if step.current == library / "sky.pdf":
            cancel.set()  # while the last file is being read: files not yet embedded are left for later
    summary = progress[-1].summary
    assert summary is not None and summary.cancelled
    assert (summary.indexed, summary.skipped) == ((), (library / "garden.md",))
    assert index.unfinished() == [("home", library / "kitchen.docx"), ("home", library / "sky.pdf")]
    healthy(index)
    index.close()

    with DocumentIndex(index.folder, shared_embedder(), chunk_characters=(400, 60)) as reopened:
        resumed = [p.summary for p in reopened.resume() if p.summary is not None]
        assert [sorted(p.name for p in s.indexed) for s in resumed] == [["kitchen.docx", "sky.pdf"]]
        assert reopened.unfinished() == []
        assert len(reopened.documents("home")) == 3
        healthy(reopened)


def test_abandoning_a_run_mid_document_leaves_no_trace(index: DocumentIndex, tmp_path: Path) -> None:
    book = tmp_path / "book.txt"
    book.write_text(
        "\n\n".join(f"Chapter {i}. The keeper lit lamp number {i} at dusk." * 3 for i in range(150))
    )
    runs = index.index_files([book], "books")
    for step in runs:
        if step.chunks_done > 0 and step.outcome is None:
            break  # the first batch of vectors is stored, the document is not finished
    with pytest.raises(DocumentIndexError, match="being changed by Reflexia process"):
        index.index_paths([book], "books")  # the run in progress holds the writer lock
    runs.close()
    assert index.documents("books") == []
    assert index.unfinished() == [("books", book)]
    healthy(index)


def test_a_second_writer_is_told_the_documents_are_busy(index: DocumentIndex, library: Path) -> None:
    index.index_paths([library / "garden.md"], "home")
    runs = index.index_files([library / "sky.pdf"], "home")
    next(runs)
    with DocumentIndex(index.folder, shared_embedder()) as other:
        with pytest.raises(DocumentIndexError, match="being changed by Reflexia process"):
            other.remove(collection="home")
        assert other.search("watering tomatoes", "home", k=1)  # readers never wait
    list(runs)
    healthy(index)


def test_nothing_relevant_gives_no_hits(index: DocumentIndex, library: Path) -> None:
    index.index_paths([library], "home")
    assert index.search("quarterly tax filing deadline for corporations", "home") == []
    assert index.search("   ", "home") == []
    assert index.search("quarterly tax filing deadline", "home", min_similarity=-1.0)  # below the threshold


def test_overlapping_neighbours_and_copies_are_shown_once(index: DocumentIndex, tmp_path: Path) -> None:
    folder = tmp_path / "lighthouse"
    folder.mkdir()
    story = " ".join(f"The lighthouse keeper polished lens number {i} until it shone." for i in range(60))
    (folder / "story.txt").write_text(story, encoding="utf-8")
    (folder / "copy of story.txt").write_text(story, encoding="utf-8")
    index.index_paths([folder], "tales")
    hits = index.search("lighthouse keeper polishing the lens", "tales", k=8)
    assert len(hits) >= 2
    stored = index._catalog.ready_chunks([h.chunk_id for h in hits])  # the stored spans
    chunks = [stored[h.chunk_id] for h in hits]
    assert not any(overlaps(a, b) for i, a in enumerate(chunks) for b in chunks[i + 1 :])


def test_a_collection_made_with_another_model_is_refused(index: DocumentIndex, library: Path) -> None:
    index.index_paths([library / "garden.md"], "home")
    with DocumentIndex(index.folder, Embedder("another-model")) as other:
        with pytest.raises(DocumentIndexError, match="indexed with the embeddings model 'all-MiniLM-L6-v2'"):
            other.search("tomatoes", "home")
        assert not other.embedder.is_loaded


def test_opening_the_index_imports_no_model_and_no_vector_store(tmp_path: Path) -> None:
    code = (
        "import sys\nfrom pathlib import Path\nfrom reflexia.core.rag.index import DocumentIndex\n"
        f"index = DocumentIndex(Path({str(tmp_path / 'vectordb')!r}))\n"
        "print(index.collections(), index.unfinished())\n"
        "heavy = {'torch', 'sentence_transformers', 'chromadb', 'transformers', 'pypdf', 'docx'}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.splitlines() == ["[] []", "[]"]
