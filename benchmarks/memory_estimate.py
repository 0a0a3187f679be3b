"""The memory estimate against the resident memory a loaded model really takes.

For the tiny, small and medium generated models (f16, see below), a fresh child
process measures its resident set size (RSS) after importing llama.cpp, then
loads the model through ``LlamaCppBackend`` with a 4096-token context (or the
model's maximum) and answers a prompt longer than one 512-token batch, so that
every weight page, the KV cache and the whole compute buffer are touched. The
growth is compared with ``estimate_memory``; the target is within ±20%.

Why f16: weights are then used in place from the memory map. Quantized rungs
on an x86 CPU are "repacked" into a second, anonymous copy at load time, and
the file pages they were copied from stay counted in RSS until the kernel
reclaims them (they are clean page cache), which RSS cannot tell apart.

Run: ``.venv/bin/python benchmarks/memory_estimate.py [--sizes tiny small medium] [--rung f16]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import re
import subprocess
import sys
import threading
from pathlib import Path

import psutil

from reflexia.core.memory.estimate import estimate_memory, graph_buffer_bytes
from reflexia.core.models.gguf_file import read_gguf
from reflexia.core.models.model_factory import MODEL_SIZES, make_model
from reflexia.core.models.quantizer import quantize_model

MODELS = Path(__file__).resolve().parents[1] / ".bench-models"
CONTEXT = 4096
MB = 1024 * 1024
_REPORTED = {
    "compute": re.compile(r"CPU compute buffer size = +([0-9.]+) MiB"),
    "kv": re.compile(r"llama_kv_cache: size = +([0-9.]+) MiB"),
    "repack": re.compile(r"CPU_REPACK model buffer size = +([0-9.]+) MiB"),
}


def model_path(size: str, rung: str) -> Path:
    """A generated benchmark model, made once and kept in .bench-models/."""
    MODELS.mkdir(exist_ok=True)
    source = MODELS / f"{size}-f16.gguf"
    if not source.exists():
        make_model(source, size=size, seed=0)
    if rung == "f16":
        return source
    target = MODELS / f"{size}-{rung}.gguf"
    return target if target.exists() else quantize_model(source, rung)


def _resident() -> dict[str, int]:
    gc.collect()
    result = {"rss": psutil.Process().memory_info().rss}
    try:  # Linux splits RSS into anonymous memory and mapped file pages
        for line in Path("/proc/self/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("RssAnon", "RssFile"):
                result[name] = int(value.split()[0]) * 1024
    except OSError:
        pass
    return result


def child(path: Path, context: int) -> None:
    """Measure one load in this (fresh) process and print the numbers as JSON."""
    import llama_cpp

    from reflexia.core.config.logging_setup import route_llama_log
    from reflexia.core.engine.conversation import ChatMessage
    from reflexia.core.engine.llama_cpp.engine import LlamaCppBackend
    from reflexia.core.engine.llama_cpp.options import LlamaOptions
    from reflexia.core.engine.values import GenerationRequest, ModelRef, SamplingParams

    reported: dict[str, float] = {}

    class Sizes(logging.Handler):  # llama.cpp's own account of its buffers, from its log
        def emit(self, record: logging.LogRecord) -> None:
            line = record.getMessage()
            for key, pattern in _REPORTED.items():
                if match := pattern.search(line):
                    reported[key] = float(match.group(1))

    llama_log = logging.getLogger("reflexia.llama")
    llama_log.setLevel(logging.INFO)
    llama_log.addHandler(Sizes())
    route_llama_log()
    llama_cpp.llama_backend_init()
    backend = LlamaCppBackend(LlamaOptions(threads=0, gpu_layers=0))
    # Longer than one 512-token batch, so the full compute buffer is used once.
    words = "Summarize these notes about running language models on a local machine, please. " * 60
    request = GenerationRequest(
        (ChatMessage("user", words),), SamplingParams(temperature=0.0, max_tokens=8), ignore_eos=True
    )
    before = _resident()
    info = backend.load(ModelRef.file(path), context)
    loaded = _resident()
    result = backend.generate(request, None, threading.Event())
    after = _resident()
    print(
        json.dumps(
            {
                "before": before,
                "loaded": loaded,
                "after": after,
                "n_ctx": info.context_length,
                "prompt_tokens": result.stats.prompt_tokens,
                "reported_mib": reported,
            }
        )
    )


def measure(path: Path, context: int) -> dict[str, object]:
    """Run :func:`child` in a fresh interpreter and return its numbers."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(path), "--context", str(context)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    data: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["tiny", "small", "medium"], choices=list(MODEL_SIZES))
    parser.add_argument("--rung", default="f16", help="quantization to measure (default f16, see above)")
    parser.add_argument("--context", type=int, default=CONTEXT)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.context)
        return

    print(
        f"{'model':<16}{'file':>7}{'weights':>9}{'KV':>7}{'compute':>9}{'overhead':>9}"
        f"{'estimate':>10}{'measured':>10}{'error':>8}"
    )
    worst = 0.0
    notes: list[str] = []
    for size in args.sizes:
        path = model_path(size, args.rung)
        info = read_gguf(path)
        estimate = estimate_memory(info, args.context)
        data = measure(path, args.context)
        before, after, reported = data["before"], data["after"], data["reported_mib"]
        assert isinstance(before, dict) and isinstance(after, dict) and isinstance(reported, dict)
        growth = after["rss"] - before["rss"]
        error = (estimate.loaded_bytes - growth) / growth * 100
        worst = max(worst, abs(error))
        name = f"{size}-{args.rung}"
        print(
            f"{name:<16}{info.file_size / MB:>7.1f}{estimate.weights_bytes / MB:>9.1f}"
            f"{estimate.kv_cache_bytes / MB:>7.1f}{estimate.compute_bytes / MB:>9.1f}"
            f"{estimate.overhead_bytes / MB:>9.1f}{estimate.total_mb:>10.1f}"
            f"{growth / MB:>10.1f}{error:>+7.1f}%"
        )
        anon = (after.get("RssAnon", 0) - before.get("RssAnon", 0)) / MB
        file = (after.get("RssFile", 0) - before.get("RssFile", 0)) / MB
        graph = graph_buffer_bytes(info, args.context, logits_for_all_tokens=True) / MB
        note = (
            f"  {name:<16} n_ctx {data['n_ctx']}, prompt {data['prompt_tokens']} tokens;"
            f" growth = anon {anon:.1f} + file pages {file:.1f};"
            f" llama.cpp reports compute buffer {reported.get('compute', 0):.2f} (formula {graph:.2f}),"
            f" KV {reported.get('kv', 0):.2f} (formula {estimate.kv_cache_bytes / MB:.2f})"
        )
        if repacked := reported.get("repack", 0.0):  # their file pages stay in RSS, unused
            adjusted = growth / MB - repacked
            note += (
                f"; {repacked:.1f} repacked: {(estimate.total_mb - adjusted) / adjusted * 100:+.1f}% without"
            )
        notes.append(note)
    print(f"worst error {worst:.1f}% (target: within 20%); MB = MiB, measured = RSS growth")
    print("\n".join(notes))


if __name__ == "__main__":
    main()
