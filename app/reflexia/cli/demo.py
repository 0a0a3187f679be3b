"""`reflexia demo`: a tour of what Reflexia does, on a fresh install, headless by default.

Each step prints what it demonstrated. It makes a model family with the
project's own generator, chats with every role (with a real chat model when the
library has one; the generated model talks gibberish by design), plays a memory
pressure trace through the real governor policy, and answers a repeated
question from the response cache. ``--gui`` runs the chats in the window.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

from reflexia.core.config import paths
from reflexia.core.config.settings import Settings, load_settings
from reflexia.core.engine.conversation import Conversation
from reflexia.core.engine.llama_cpp.engine import LlamaCppBackend
from reflexia.core.engine.llama_cpp.options import LlamaOptions
from reflexia.core.engine.response_cache import ResponseCache, cache_key
from reflexia.core.engine.values import GenerationRequest, GenerationResult, ModelRef, SamplingParams
from reflexia.core.memory.estimate import MemoryBudget
from reflexia.core.memory.governor import Decision, GovernorConfig, LevelChange, MemoryGovernor
from reflexia.core.memory.monitor import MemorySample
from reflexia.core.memory.rung_report import family_report, rung_options
from reflexia.core.models.catalog import ModelFamily, scan_catalog
from reflexia.core.roles.library import RoleLibrary, sampling_for
from reflexia.core.units import GB, human_size

QUESTIONS = {
    "Assistant": "What can you do without an internet connection?",
    "Code Assistant": "Write a Python function that reverses a string.",
    "Data Analyst": "The sales were 10, 12 and 17. What is the average?",
    "Technical Writer": "Explain in two sentences what a quantized model is.",
    "Research Assistant": "What should I check before trusting a source?",
}
#: (seconds, memory used %): calm, a spike past "high", worse, then calm again for the step up.
TRACE = [(0, 40), (5, 45), (10, 84), (16, 86), (22, 95), (28, 96), (34, 60), (40, 50), (80, 50), (120, 48)]


def _step(number: int, title: str) -> None:
    print(f"\n{number}. {title}")


def _shows(text: str) -> None:
    print(f"   → shows: {text}")


def make_family(folder: Path) -> ModelFamily:
    """A generated model at f16 and three rungs (the quantizer runs in-process here: a CLI step)."""
    from reflexia.core.models.model_factory import make_model
    from reflexia.core.models.quantizer import quantize_model

    source = make_model(folder / "demo-f16.gguf", size="small", seed=1)
    for rung in ("q4_0", "q4_k_m", "q8_0"):
        quantize_model(source, rung)
    family = scan_catalog([folder], ollama_dir=None, lmstudio_dirs=None).families[0]
    return family


def chat_model(settings: Settings, generated: Path) -> tuple[Path, bool]:
    """A real chat model from the library when there is one (smallest first), else the generated one."""
    catalog = scan_catalog([settings.models_dir()])
    real = [
        f
        for family in sorted(catalog.families, key=lambda f: f.parameter_count)
        for f in family.files
        if f.info is not None and f.info.chat_template and not (f.info.name or "").startswith("reflexia-")
    ]
    return (real[0].path, True) if real else (generated, False)


def play_trace(family: ModelFamily, settings: Settings) -> int:
    """The real governor policy fed a scripted memory trace; returns how many switches it made."""
    total = 32 * GB
    budget = MemoryBudget(total, total // 2, settings.memory.max_memory_percent, 1 * GB)
    options = rung_options(family_report(family, 4096, budget))
    # A played trace writes nothing, so it may show the rungs the quantizer would make.
    config = GovernorConfig(min_dwell_s=3, recovery_s=30, max_memory_percent=95, make_rungs=True)
    governor = MemoryGovernor(config, options, current_rung="f16")
    switches = 0
    for second, percent in TRACE:
        sample = MemorySample(float(second), total, int(total * (100 - percent) / 100), float(percent))
        for event in governor.observe(sample):
            if isinstance(event, LevelChange):
                print(f"   t={second:>3}s  pressure {event.from_level} → {event.to_level} ({percent}% used)")
            elif isinstance(event, Decision) and event.is_switch:
                switches += 1
                print(f"   t={second:>3}s  {event.from_rung} → {event.to_rung}: {event.reason}")
    return switches


def cmd_demo(args: argparse.Namespace) -> int:
    """`reflexia demo [--gui]`."""
    settings = load_settings().settings
    folder = paths.data_dir() / "demo-models"
    folder.mkdir(parents=True, exist_ok=True)
    print("Reflexia demo: everything below runs on this computer.")

    _step(1, "A model family at several quantization rungs")
    family = make_family(Path(tempfile.mkdtemp(dir=folder)))
    for entry in family.files:
        print(f"   {entry.quantization:<7} {human_size(entry.info.file_size if entry.info else 0):>9}")
    _shows("one model at four rungs, made here by llama.cpp's quantizer (q5_k_m is made when needed)")

    generated = family.file_for("q4_k_m")
    assert generated is not None
    model, real = chat_model(settings, generated.path)
    if args.gui:
        from reflexia.tour import run_tour

        print(f"   the window chats with each role using {model.name}, then asks one question twice")
        return run_tour(model, QUESTIONS)

    _step(2, "Chatting with each expert role")
    print(
        f"   model: {model.name}" + ("" if real else " (generated: random weights, so gibberish by design)")
    )
    engine = LlamaCppBackend(LlamaOptions.from_settings(settings))
    info = engine.load(ModelRef.file(model), 2048)
    roles = RoleLibrary(settings.roles, paths.config_dir())
    defaults = SamplingParams.from_settings(settings)
    try:
        for role in roles.roles():
            question = QUESTIONS.get(role.name, "Introduce yourself in one sentence.")
            conversation = Conversation(role.system_prompt)
            conversation.add_user(question)
            # Greedy and short, so the tour reads the same on every run.
            sampling = replace(sampling_for(role, defaults), max_tokens=60, temperature=0.0)
            result = engine.generate(GenerationRequest(conversation.messages(), sampling, role.name), None,
                                     threading.Event())  # fmt: skip
            reply = " ".join(result.text.split())
            print(f"   [{role.name}] {question}\n      {reply[:150]}{'…' if len(reply) > 150 else ''}")
            print(f"      {result.stats.completion_tokens} tokens, {result.stats.tokens_per_s:.0f} tok/s")
        _shows("each role brings its own system prompt and sampling; all run in-process")

        _step(3, "The memory governor under a pressure trace (the real policy, a scripted trace)")
        switches = play_trace(family, settings)
        _shows(f"{switches} switches: down as pressure rises, back up after it stays low (hysteresis, dwell)")

        _step(4, "A repeated question answered from the response cache")
        cache = ResponseCache(settings.chat.response_cache_entries or 8)
        conversation = Conversation("You are a helpful assistant.")
        conversation.add_user("What is a local language model?")
        request = GenerationRequest(conversation.messages(), SamplingParams(temperature=0.0, max_tokens=60))
        key = cache_key(request, info, "Assistant")
        timings: list[tuple[float, GenerationResult]] = []
        for _ in range(2):
            started = time.perf_counter()
            answer = cache.get(key) or engine.generate(request, None, threading.Event())
            cache.put(key, answer)
            timings.append((time.perf_counter() - started, answer))
        (first_s, first), (second_s, second) = timings
        print(f"   first: generated in {first_s * 1000:.0f} ms; again: {second_s * 1000:.2f} ms, "
              f"from the cache: {second.from_cache}, same text: {second.text == first.text}")  # fmt: skip
        _shows("greedy answers to the same question, model, rung and role are not generated twice")
    finally:
        engine.unload()
    print("\nDone. `reflexia` opens the app; `reflexia demo --gui` shows the chats in the window.")
    return 0
