"""Time to first token when two conversations take turns on one engine, against one alone.

The window and the quick prompt share the in-process engine. Each keeps its own
KV cache: switching saves the outgoing conversation's state and restores the
incoming one's, instead of evaluating its whole history again. Three ways, the
same turns, interleaved in one process:

- alone: conversation A only (its cache is always in the context);
- alternating: A and B take turns (each switch saves and restores a state);
- alternating, no saved states: as the engine was before (each switch evaluates
  the whole history again).

Uses SmolLM2-135M-Instruct from the test cache when present (a real model at a
realistic size), else the generated small model.

    .venv/bin/python benchmarks/conversation_switch.py [--turns 8] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
from pathlib import Path

from reflexia.core.engine.conversation import Conversation
from reflexia.core.engine.llama_cpp.engine import LlamaCppBackend
from reflexia.core.engine.llama_cpp.kv_cache import ConversationCache
from reflexia.core.engine.llama_cpp.options import LlamaOptions
from reflexia.core.engine.values import GenerationRequest, ModelRef, SamplingParams

ROOT = Path(__file__).resolve().parents[1]
SMOLLM2 = Path.home() / ".cache" / "reflexia-tests" / "SmolLM2-135M-Instruct.Q4_1.gguf"
SAMPLING = SamplingParams(temperature=0.0, max_tokens=48, repeat_penalty=1.0)
QUESTIONS = [
    "Tell me about the history of lighthouses and how their lamps changed over the centuries.",
    "How do tides work, and why are there two a day in most places?",
    "Explain how a sailing boat can move against the wind.",
    "What makes sea water salty, and why are some seas saltier than others?",
    "Describe how a compass works and what magnetic declination means.",
    "Why do waves break when they reach the shore?",
    "How did sailors find their longitude before satellite navigation?",
    "What is the difference between a bay, a gulf and a sound?",
    "How are coral reefs formed and why are they in danger?",
    "Explain what causes sea fog and when it is most likely.",
]


def model_path() -> Path:
    if SMOLLM2.is_file():
        return SMOLLM2
    from reflexia.core.models.model_factory import make_model
    from reflexia.core.models.quantizer import quantize_model

    folder = ROOT / ".bench-models"
    source = folder / "bench-small-f16.gguf"
    if not source.exists():
        make_model(source, size="small", seed=11)
    target = folder / "bench-small-q4_k_m.gguf"
    return target if target.exists() else quantize_model(source, "q4_k_m")


def run(path: Path, turns: int, mode: str) -> list[float]:
    """TTFT of conversation A's turns 2..N (the first turn has no history to reuse)."""
    engine = LlamaCppBackend(LlamaOptions(threads=2))
    engine.load(ModelRef.file(path), 4096)
    if mode == "no-saved-states":
        engine.cache = ConversationCache(max_saved=0)
    a, b = Conversation("You are a helpful assistant."), Conversation("Answer briefly.")
    ttft: list[float] = []
    try:
        for turn in range(turns):
            for conversation, name in ((a, "a"), (b, "b")):
                if name == "b" and mode == "alone":
                    continue
                conversation.add_user(QUESTIONS[(turn + (name == "b") * 5) % len(QUESTIONS)])
                request = GenerationRequest(conversation.messages(), SAMPLING, name)
                result = engine.generate(request, None, threading.Event())
                conversation.add_assistant(result.text)
                if name == "a" and turn > 0:
                    ttft.append(result.stats.ttft_s)
    finally:
        engine.unload()
    return ttft


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    path = model_path()
    modes = ("alone", "alternating", "no-saved-states")
    samples: dict[str, list[float]] = {mode: [] for mode in modes}
    for repeat in range(args.repeats):
        order = modes[repeat % 3 :] + modes[: repeat % 3]  # rotate: the machine is noisy
        for mode in order:
            samples[mode] += run(path, args.turns, mode)
    print(f"model: {path.name}; {args.turns} turns each, {args.repeats} repeats (rotated order)")
    print(f"{'':>18} {'median TTFT':>12} {'p90':>8}")
    summary = {}
    for mode in modes:
        values = sorted(samples[mode])
        median = statistics.median(values)
        p90 = values[int(0.9 * (len(values) - 1))]
        summary[mode] = {"median_ms": round(median * 1000, 1), "p90_ms": round(p90 * 1000, 1)}
        print(f"{mode:>18} {median * 1000:>10.1f} ms {p90 * 1000:>6.1f} ms")
    alone = summary["alone"]["median_ms"]
    print(f"alternating / alone: {summary['alternating']['median_ms'] / alone:.2f}; "
          f"without saved states / alone: {summary['no-saved-states']['median_ms'] / alone:.2f}")  # fmt: skip
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
