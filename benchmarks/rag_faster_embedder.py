"""Would a faster embedding path pay? Torch fp32 (what ships) against int8 and ONNX, side by side.

1. **sentence-transformers' ONNX backend** (``SentenceTransformer(..., backend="onnx")``): tried first,
   as the issue asks; it needs ``optimum-onnx``, which is reported as importable or not.
2. **Dynamic int8** (``torch.ao.quantization.quantize_dynamic`` on the Linear layers of the same model):
   indexing throughput through ``DocumentIndex.index_paths`` and recall@1/@5 (vector and hybrid) on the
   standard-library set of ``tests/unit/test_rag_recall.py``, against the shipped fp32 model in the same run.

Run: ``.venv/bin/python benchmarks/rag_faster_embedder.py [--cases 150] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from reflexia.core.rag.embedder import Embedder, resolve_embeddings_model
from reflexia.core.rag.evaluation import RetrievalCase, stdlib_retrieval_set, write_documents
from reflexia.core.rag.index import DocumentIndex


class Int8Embedder(Embedder):
    """The same model with its Linear layers quantized to int8 at load (weights only, dynamic activations)."""

    def _load(self) -> Any:
        import torch

        model = super()._load()
        with warnings.catch_warnings():  # torch.ao's quantization API is deprecated in favour of torchao
            warnings.simplefilter("ignore")
            # torch leaves quantize_dynamic unannotated
            return torch.ao.quantization.quantize_dynamic(  # type: ignore[no-untyped-call]
                model, {torch.nn.Linear}, dtype=torch.qint8
            )


def onnx_backend() -> str:
    """Whether sentence-transformers' ONNX backend loads here, and if not, why."""
    try:
        from sentence_transformers import SentenceTransformer

        SentenceTransformer(resolve_embeddings_model("all-MiniLM-L6-v2"), backend="onnx")
    except Exception as error:  # an ImportError of optimum, or of what optimum imports
        return f"unavailable: {type(error).__name__}: {error}"
    return "available"


def measure(name: str, embedder: Embedder, cases: list[RetrievalCase]) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix=f"rag-{name}-"))
    files = write_documents(cases, folder / "docs")
    with DocumentIndex(folder / "vectordb", embedder) as index:
        embedder.load()
        started = time.perf_counter()
        summary = index.index_paths([folder / "docs"], "set")
        seconds = time.perf_counter() - started
        row: dict[str, Any] = {"embedder": name, "chunks_per_s": round(summary.chunks / seconds, 1)}
        for ranking in ("vector", "hybrid"):
            for k in (1, 5):
                found = sum(
                    1
                    for case in cases
                    if files[case.module]
                    in {h.source for h in index.search(case.query, "set", k, ranking=ranking)}
                )
                row[f"{ranking}@{k}"] = round(found / len(cases), 3)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=150)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    cases = stdlib_retrieval_set(args.cases)
    onnx = onnx_backend()
    rows = [measure("torch fp32", Embedder(), cases), measure("torch int8", Int8Embedder(), cases)]
    if args.json:
        print(json.dumps({"onnx_backend": onnx, "rows": rows}))
        return 0
    print(f"sentence-transformers ONNX backend: {onnx}")
    for row in rows:
        print("  ".join(f"{key} {value}" for key, value in row.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
