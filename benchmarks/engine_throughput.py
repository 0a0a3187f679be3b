"""Engine throughput against a bare llama.cpp loop, measured side by side.

Three ways to run the same greedy generation on the same ``medium`` model:

  (a) a bare low-level llama.cpp loop (decode, greedy sampler, token_to_piece),
  (b) the core engine (``LlamaCppBackend.generate``),
  (c) the inference service on its QThread, timed on the GUI thread with a
      live Qt event loop.

Rounds are interleaved (abc, bca, cab, ...) so machine noise hits all three
alike; the script prints medians and the ratios b/a and c/a (target >= 0.97).
Every measurement is a fresh process that loads the model, warms up with a
short generation, then times one generation from an empty KV cache.

Run: ``make bench`` or ``.venv/bin/python benchmarks/engine_throughput.py [--rounds N]``.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import llama_cpp
from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer

from reflexia.core.engine.chat_template import render_prompt
from reflexia.core.engine.conversation import ChatMessage
from reflexia.core.engine.llama_cpp.engine import LlamaCppBackend
from reflexia.core.engine.llama_cpp.options import LlamaOptions
from reflexia.core.engine.values import GenerationRequest, ModelRef, SamplingParams
from reflexia.core.hardware import physical_cores
from reflexia.core.models.model_factory import make_model
from reflexia.core.models.quantizer import quantize_model
from reflexia.services.inference import InferenceService

MODELS = Path(__file__).resolve().parents[1] / ".bench-models"
CONTEXT = 2048
BATCH = 512  # the engine's default batch size


@dataclass(frozen=True)
class Run:
    prompt_tps: float  # prompt tokens / time to first token
    decode_tps: float  # (tokens - 1) / (last token - first token)


def medium_model(rung: str) -> Path:
    """The benchmark model, generated once and kept in .bench-models/."""
    MODELS.mkdir(exist_ok=True)
    source = MODELS / "medium-f16.gguf"
    if not source.exists():
        make_model(source, size="medium", seed=0)
    if rung == "f16":
        return source
    target = MODELS / f"medium-{rung}.gguf"
    return target if target.exists() else quantize_model(source, rung)


def messages(round_no: int) -> tuple[ChatMessage, ...]:
    # A different first line per round: no variant may reuse another's KV cache.
    body = "Summarize the following notes about running language models locally. " * 24
    return (ChatMessage("system", f"Round {round_no:03d}."), ChatMessage("user", body))


class BareLoop:
    """(a): what llama.cpp's own 'simple' example does, with nothing around it."""

    def __init__(self, path: Path, threads: int) -> None:
        llama_cpp.llama_backend_init()
        params = llama_cpp.llama_model_default_params()
        params.n_gpu_layers = 999 if llama_cpp.llama_supports_gpu_offload() else 0
        self.model = llama_cpp.llama_model_load_from_file(str(path).encode(), params)
        ctx_params = llama_cpp.llama_context_default_params()
        ctx_params.n_ctx = CONTEXT
        ctx_params.n_batch = ctx_params.n_ubatch = BATCH
        ctx_params.n_threads = ctx_params.n_threads_batch = threads
        self.ctx = llama_cpp.llama_init_from_model(self.model, ctx_params)
        self.vocab = llama_cpp.llama_model_get_vocab(self.model)

    def tokens(self, round_no: int) -> list[int]:
        text = render_prompt(messages(round_no), None)
        data = text.encode()
        buffer = (llama_cpp.llama_token * (len(data) + 8))()
        n = llama_cpp.llama_tokenize(self.vocab, data, len(data), buffer, len(buffer), True, True)
        return list(buffer[:n])

    def run(self, round_no: int, n_tokens: int) -> Run:
        llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(self.ctx), True)
        prompt = self.tokens(round_no)
        started = time.perf_counter()
        for start in range(0, len(prompt), BATCH):
            chunk = prompt[start : start + BATCH]
            array = (llama_cpp.llama_token * len(chunk))(*chunk)
            llama_cpp.llama_decode(self.ctx, llama_cpp.llama_batch_get_one(array, len(chunk)))
        sampler = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
        llama_cpp.llama_sampler_chain_add(sampler, llama_cpp.llama_sampler_init_greedy())
        piece = ctypes.create_string_buffer(256)
        one = (llama_cpp.llama_token * 1)()
        first = last = 0.0
        for i in range(n_tokens):
            token = llama_cpp.llama_sampler_sample(sampler, self.ctx, -1)
            llama_cpp.llama_token_to_piece(self.vocab, token, piece, 256, 0, False)
            last = time.perf_counter()
            if i == 0:
                first = last
            if i + 1 < n_tokens:
                one[0] = token
                llama_cpp.llama_decode(self.ctx, llama_cpp.llama_batch_get_one(one, 1))
        llama_cpp.llama_sampler_free(sampler)
        return Run(len(prompt) / (first - started), (n_tokens - 1) / (last - first))

    def close(self) -> None:
        llama_cpp.llama_free(self.ctx)
        llama_cpp.llama_model_free(self.model)


def request(round_no: int, n_tokens: int) -> GenerationRequest:
    return GenerationRequest(
        messages(round_no),
        SamplingParams(temperature=0.0, repeat_penalty=1.0, max_tokens=n_tokens),
        ignore_eos=True,
    )


def run_engine(engine: LlamaCppBackend, round_no: int, n_tokens: int) -> Run:
    """(b): the core engine, timed from its own callbacks."""
    times: list[float] = []
    started = time.perf_counter()
    result = engine.generate(
        request(round_no, n_tokens), lambda _chunk: times.append(time.perf_counter()), threading.Event()
    )
    assert result.stats.completion_tokens == n_tokens
    return Run(result.stats.prompt_tokens / (times[0] - started), (n_tokens - 1) / (times[-1] - times[0]))


def run_service(service: InferenceService, round_no: int, n_tokens: int) -> Run:
    """(c): the service, timed on the GUI thread as the window would see it."""
    loop = QEventLoop()
    arrivals: list[float] = []
    prompt_tokens: list[int] = []

    def on_token(_request_id: int, _text: str) -> None:
        arrivals.append(time.perf_counter())

    def on_finished(_request_id: int, result: object) -> None:
        arrivals.append(time.perf_counter())
        prompt_tokens.append(result.stats.prompt_tokens)  # type: ignore[attr-defined]
        loop.quit()

    service.token_generated.connect(on_token)
    service.generation_finished.connect(on_finished)
    started = time.perf_counter()
    service.submit(request(round_no, n_tokens))
    loop.exec()
    service.token_generated.disconnect(on_token)
    service.generation_finished.disconnect(on_finished)
    return Run(prompt_tokens[0] / (arrivals[0] - started), (n_tokens - 1) / (arrivals[-1] - arrivals[0]))


def measure(variant: str, path: Path, round_no: int, n_tokens: int, threads: int) -> Run:
    """Load the model one way, warm up, then time one generation (runs in a child process)."""
    if variant == "a":
        bare = BareLoop(path, threads)
        bare.run(0, 16)
        run = bare.run(round_no, n_tokens)
        bare.close()
        return run
    if variant == "b":
        engine = LlamaCppBackend(LlamaOptions(threads=threads))
        engine.load(ModelRef.file(path), CONTEXT)
        run_engine(engine, 0, 16)
        run = run_engine(engine, round_no, n_tokens)
        engine.unload()
        return run
    app = QCoreApplication(sys.argv)
    service = InferenceService({"llama.cpp": LlamaCppBackend(LlamaOptions(threads=threads))})
    loaded = QEventLoop()
    service.model_loaded.connect(loaded.quit)
    service.load_model(ModelRef.file(path), CONTEXT)
    QTimer.singleShot(60_000, loaded.quit)
    loaded.exec()
    assert service.model is not None, "the service could not load the model"
    run_service(service, 0, 16)
    run = run_service(service, round_no, n_tokens)
    service.shutdown()
    del app
    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--tokens", type=int, default=512)
    parser.add_argument("--rung", default="q4_k_m")
    parser.add_argument("--verbose", action="store_true", help="print every measurement")
    parser.add_argument("--child", nargs=2, metavar=("VARIANT", "ROUND"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    path = medium_model(args.rung)
    threads = physical_cores()
    if args.child:
        run = measure(args.child[0], path, int(args.child[1]), args.tokens, threads)
        print(json.dumps({"prompt_tps": run.prompt_tps, "decode_tps": run.decode_tps}))
        return 0

    # Each measurement runs in a fresh process, as the app and the CLI each run one way:
    # llama.cpp's OpenMP thread teams belong to the thread that calls it, and teams of
    # two calling threads in one process compete for the cores.
    runs: dict[str, list[Run]] = {"a": [], "b": [], "c": []}
    for round_no in range(1, args.rounds + 1):
        shift = round_no % 3  # rotate the order too: whatever runs first must not always be "a"
        for variant in "abc"[shift:] + "abc"[:shift]:
            command = [sys.executable, __file__, "--rung", args.rung, "--tokens", str(args.tokens)]
            child = subprocess.run(
                [*command, "--child", variant, str(round_no)], capture_output=True, text=True, check=True
            )
            runs[variant].append(Run(**json.loads(child.stdout.strip().splitlines()[-1])))
            if args.verbose:
                print(variant, round_no, runs[variant][-1], flush=True)

    def median(key: str, field: str) -> float:
        return statistics.median(getattr(run, field) for run in runs[key])

    size_mb = path.stat().st_size / 1e6
    print(
        f"model: {path.name} ({size_mb:.0f} MB), threads: {threads}, rounds: {args.rounds}, "
        f"tokens per run: {args.tokens}"
    )
    print(f"{'':28}{'prompt tok/s':>14}{'decode tok/s':>14}")
    names = {"a": "(a) bare llama.cpp loop", "b": "(b) core engine", "c": "(c) service + Qt loop"}
    for key, name in names.items():
        print(f"{name:28}{median(key, 'prompt_tps'):14.1f}{median(key, 'decode_tps'):14.1f}")
    for key in ("b", "c"):
        print(
            f"ratio {key}/a: prompt {median(key, 'prompt_tps') / median('a', 'prompt_tps'):.3f}, "
            f"decode {median(key, 'decode_tps') / median('a', 'decode_tps'):.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
