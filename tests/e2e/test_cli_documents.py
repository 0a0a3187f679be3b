"""`reflexia index`, `search`, `collections` and `forget` as a user runs them, and `kill -9` mid-indexing.

Every run is ``python -m reflexia`` with the test's own REFLEXIA_HOME, so the index lives in that
home's vector store folder. The embedder is the real all-MiniLM-L6-v2.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from reflexia.core.config import paths
from reflexia.core.rag.index import DocumentIndex
from tests.e2e.test_cli import assert_one_line_error, assert_success, reflexia_cli
from tests.unit.test_rag_support import write_docx, write_pdf

KILL_TIMEOUT_S = 120.0


def vector_store() -> Path:
    return paths.data_dir() / "vectordb"


def library(folder: Path) -> Path:
    folder.mkdir()
    (folder / "garden.md").write_text(
        "# Garden\n\n## Tomatoes\n\nWater tomato plants deeply twice a week, early in the morning.\n\n"
        "## Roses\n\nPrune roses in late winter, just above an outward-facing bud.\n",
        encoding="utf-8",
    )
    write_pdf(
        folder / "sky.pdf", ["Telescopes for beginners.", "Saturn has bright rings made of ice and rock."]
    )
    write_docx(folder / "kitchen.docx", [("h1", "Bread"), ("p", "Sourdough needs a starter fed with flour.")])
    (folder / "empty.txt").write_bytes(b"")
    return folder


def test_index_search_list_and_forget(tmp_path: Path) -> None:
    docs = library(tmp_path / "docs")
    run = reflexia_cli("index", docs, "--collection", "home")
    assert_success(run)
    lines = run.stdout.splitlines()
    assert sorted(line.split()[0] for line in lines[:-1]) == ["failed", "indexed", "indexed", "indexed"]
    assert f"failed     {docs / 'empty.txt'}: is empty (0 bytes)" in lines
    assert lines[-1].startswith("3 indexed, 0 unchanged, 1 failed, ")

    run = reflexia_cli("index", docs, "--collection", "home", "--json")
    assert_success(run)
    summary = json.loads(run.stdout)
    assert (summary["indexed"], summary["skipped"], summary["chunks"]) == (0, 3, 0)
    assert summary["failed"] == [{"path": str(docs / "empty.txt"), "error": "is empty (0 bytes)"}]

    run = reflexia_cli(
        "search", "what are Saturn's rings made of", "--collection", "home", "-k", "2", "--json"
    )
    assert_success(run)
    hits = json.loads(run.stdout)["hits"]
    assert 1 <= len(hits) <= 2
    assert {"source", "page", "score", "text"} <= set(hits[0])
    assert (hits[0]["source"], hits[0]["page"]) == (str(docs / "sky.pdf"), 2)
    assert "ice and rock" in hits[0]["text"]

    run = reflexia_cli("search", "watering", "tomatoes", "--collection", "home")
    assert_success(run)
    assert run.stdout.startswith(f"1. {docs / 'garden.md'}, Garden › Tomatoes  (score ")

    run = reflexia_cli("collections", "--json")  # garden: 2 sections, sky: 2 pages, kitchen: 1
    assert_success(run)
    assert json.loads(run.stdout) == {"collections": [{"name": "home", "documents": 3, "chunks": 5}]}

    assert_success(run := reflexia_cli("forget", docs / "sky.pdf"))
    assert run.stdout == f"Forgot {docs / 'sky.pdf'}: 1 document, 2 chunks.\n"
    assert_success(run := reflexia_cli("forget", "--collection", "home"))
    assert run.stdout == "Forgot collection 'home': 2 documents, 3 chunks.\n"
    assert_success(run := reflexia_cli("collections"))
    assert run.stdout.startswith("No document collections yet")


def test_errors_are_one_line_and_exit_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "empty.txt").write_bytes(b"")
    (bad / "photo.md").write_bytes(bytes(range(256)))
    run = reflexia_cli("index", bad, "--json")
    assert run.returncode == 1, run.describe()
    assert len(json.loads(run.stdout)["failed"]) == 2  # the summary still says what happened
    assert run.stderr.splitlines() == [
        f"reflexia: index: nothing could be indexed from {bad}: every file failed"
    ]

    assert_one_line_error(
        reflexia_cli("search", "anything", "--collection", "nowhere"), "no document collection"
    )
    assert_one_line_error(reflexia_cli("forget"), "forget: give a PATH, --collection NAME, or both")
    assert_one_line_error(reflexia_cli("forget", tmp_path / "never.txt"), "is not indexed")
    assert_one_line_error(reflexia_cli("search", "x", "-k", "0"), "-k must be 1 or more")


def _logbooks(folder: Path, count: int) -> list[Path]:
    """Long text files of more chunks than one embedding batch, so a kill lands inside a document."""
    rng = random.Random(0)
    words = ("lantern", "harbor", "keeper", "beacon", "tide", "storm", "fog", "ship", "rock", "light", "lens")
    folder.mkdir()
    files = []
    for number in range(count):
        paragraphs = [" ".join(rng.choice(words) for _ in range(70)) + "." for _ in range(150)]
        path = folder / f"logbook-{number}.txt"
        path.write_text(f"Logbook {number}.\n\n" + "\n\n".join(paragraphs), encoding="utf-8")
        files.append(path)
    return files


def _index_until_killed(folder: Path, indexed: int, delay_s: float | None) -> tuple[list[str], float]:
    """Run `reflexia index` and SIGKILL it once ``indexed`` files were indexed and ``delay_s`` more passed.

    Without ``delay_s`` it waits half the time the last file took, which lands inside the next
    document on a machine of any speed. Returns the lines printed and the time one file took.
    """
    process = subprocess.Popen(
        [sys.executable, "-m", "reflexia", "index", str(folder), "--collection", "logs"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ),
    )  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    lines: list[str] = []
    finished_at: list[float] = []
    deadline = time.monotonic() + KILL_TIMEOUT_S
    try:
        while len(finished_at) < indexed and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line.strip())
            if line.startswith("indexed"):
                finished_at.append(time.monotonic())
        per_file = finished_at[-1] - finished_at[-2] if len(finished_at) >= 2 else 0.0
        time.sleep(delay_s if delay_s is not None else per_file / 2)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL, f"the run ended by itself first: {lines}"
    return lines, per_file


def test_kill_9_mid_indexing_leaves_every_document_whole_or_absent(tmp_path: Path) -> None:
    files = _logbooks(tmp_path / "logbooks", 5)
    half_written = 0
    per_file = 0.0
    for indexed in (2, 1):  # the second run starts with what the first one left
        lines, measured = _index_until_killed(
            tmp_path / "logbooks", indexed, per_file / 2 if per_file else None
        )
        per_file = per_file or measured
        assert all(line.startswith(("indexed", "unchanged")) for line in lines), lines
        with DocumentIndex(vector_store()) as index:
            health = index.check()  # before any writer has swept: exactly what the kill left
            assert health.problems == (), health.problems
            half_written += health.leftovers
            documents = index.documents("logs")
            assert len({d.path for d in documents}) == len(documents)  # never twice
            assert all(d.chunks >= 60 for d in documents)  # never half
    assert half_written >= 1, "no kill landed inside a document; the test proved nothing"

    run = reflexia_cli(
        "index", tmp_path / "logbooks", "--collection", "logs", "--json", timeout=KILL_TIMEOUT_S
    )
    assert_success(run)
    summary = json.loads(run.stdout)
    assert summary["failed"] == [] and summary["indexed"] + summary["skipped"] == len(files)
    assert summary["skipped"] >= 3  # what was finished before the kills is not done again
    with DocumentIndex(vector_store()) as index:
        health = index.check()
        assert (health.problems, health.leftovers) == ((), 0)
        assert sorted(d.path for d in index.documents("logs")) == files
        assert index.unfinished() == []
