"""Tests of the memory estimate, the budget and the fit check, on real generated models."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import llama_cpp
import pytest

from reflexia.core.config import paths
from reflexia.core.config.settings import load_settings
from reflexia.core.engine.llama_cpp.engine import LlamaCppBackend
from reflexia.core.engine.llama_cpp.options import LlamaOptions
from reflexia.core.engine.values import ModelRef
from reflexia.core.hardware import is_apple_silicon
from reflexia.core.memory.estimate import (
    MemoryBudget,
    MemoryEstimate,
    check_fit,
    estimate_memory,
    graph_buffer_bytes,
    largest_fitting,
)
from reflexia.core.models.gguf_file import GGUFInfo, read_gguf
from reflexia.core.models.model_factory import MODEL_SIZES
from reflexia.core.models.quantizer import quantize_model

GB = 1024**3
MiB = 1024**2


@pytest.fixture(scope="module")
def tiny(tiny_f16_model: Path) -> GGUFInfo:
    return read_gguf(tiny_f16_model)


@pytest.fixture(scope="module")
def tiny_rungs(tiny_f16_model: Path, tmp_path_factory: pytest.TempPathFactory) -> list[GGUFInfo]:
    """tiny at q4_k_m, q8_0 and f16, listed out of order."""
    folder = tmp_path_factory.mktemp("rungs")
    return [
        read_gguf(quantize_model(tiny_f16_model, "q8_0", folder / "tiny-q8_0.gguf")),
        read_gguf(tiny_f16_model),
        read_gguf(quantize_model(tiny_f16_model, "q4_k_m", folder / "tiny-q4_k_m.gguf")),
    ]


def budget_with(usable: int) -> MemoryBudget:
    """A budget whose usable memory is exactly ``usable`` (no cap, no free floor)."""
    return MemoryBudget(total_bytes=64 * GB, available_bytes=usable, max_memory_percent=100, min_free_bytes=0)


def test_kv_cache_is_keys_and_values_for_every_layer_and_cell(tiny: GGUFInfo) -> None:
    shape = MODEL_SIZES["tiny"]

    estimate = estimate_memory(tiny, 2048)

    per_cell = 2 * shape.head_count_kv * shape.head_dim * 2  # K and V, f16
    assert estimate.kv_cache_bytes == shape.block_count * 2048 * per_cell == 2 * MiB
    q8 = estimate_memory(tiny, 2048, kv_cache_type="q8_0")
    assert q8.kv_cache_bytes == estimate.kv_cache_bytes * 34 // 64
    with pytest.raises(ValueError, match="unknown KV cache type"):
        estimate_memory(tiny, 2048, kv_cache_type="q9_9")


def test_weights_are_the_files_tensor_bytes(tiny: GGUFInfo, tiny_model: Path) -> None:
    quantized = read_gguf(tiny_model)

    assert estimate_memory(tiny, 1024).weights_bytes == sum(tiny.tensor_type_bytes.values())
    assert estimate_memory(quantized, 1024).weights_bytes == sum(quantized.tensor_type_bytes.values())
    assert estimate_memory(quantized, 1024).weights_bytes < tiny.file_size / 3


def test_estimate_grows_linearly_with_context(small_model: Path) -> None:
    info = read_gguf(small_model)
    totals = [estimate_memory(info, context).total_bytes for context in (1024, 2048, 3072, 4096)]

    steps = {b - a for a, b in itertools.pairwise(totals)}
    assert len(steps) == 1 and steps.pop() > 0


def test_context_is_clamped_to_the_trained_context_and_padded_like_llama_cpp(tiny: GGUFInfo) -> None:
    assert tiny.context_length == 2048

    assert estimate_memory(tiny, 8192) == estimate_memory(tiny, 2048)
    assert estimate_memory(tiny, 8192).context_length == 2048
    assert estimate_memory(tiny, 300).context_length == 512


def test_without_a_gpu_build_offloading_changes_nothing(tiny: GGUFInfo) -> None:
    if llama_cpp.llama_supports_gpu_offload() and not is_apple_silicon():
        pytest.skip("a discrete-GPU build keeps offloaded weights in VRAM")

    assert estimate_memory(tiny, 2048, gpu_layers=-1) == estimate_memory(tiny, 2048)


def test_the_estimate_counts_what_the_engine_allocates_at_the_configured_batch(
    small_model: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A batch size other than the default, from the settings, as the app loads models.
    write_config = paths.config_dir() / "config.json"
    write_config.parent.mkdir(parents=True, exist_ok=True)
    write_config.write_text(json.dumps({"model": {"batch_size": 128, "threads": 1, "gpu_layers": 0}}))
    settings = load_settings().settings
    backend = LlamaCppBackend(LlamaOptions.from_settings(settings))
    try:
        backend.load(ModelRef.file(small_model), 4096)
    finally:
        backend.unload()
    text = "\n".join(r.getMessage() for r in caplog.records if r.name == "reflexia.llama")
    compute = re.search(r"CPU compute buffer size = +([0-9.]+) MiB", text)
    kv = re.search(r"llama_kv_cache: size = +([0-9.]+) MiB", text)
    assert compute and kv, "llama.cpp did not log its buffer sizes"
    assert re.search(r"flash_attn += enabled", text)  # what the estimate assumes, set explicitly

    info = read_gguf(small_model)
    reported = float(compute.group(1)) * MiB
    assert graph_buffer_bytes(info, 4096, batch_size=128, logits_for_all_tokens=True) == pytest.approx(
        reported, rel=0.05
    )
    # The fit check uses the configured batch, not a fixed 512.
    budget = MemoryBudget(
        total_bytes=64 * GB, available_bytes=32 * GB, max_memory_percent=100, min_free_bytes=0
    )
    fit = check_fit(info, 4096, budget, batch_size=settings.model.batch_size)
    assert fit.estimate == estimate_memory(info, 4096, batch_size=128)
    assert fit.estimate.compute_bytes < estimate_memory(info, 4096, batch_size=512).compute_bytes
    assert estimate_memory(info, 4096).kv_cache_bytes == pytest.approx(
        float(kv.group(1)) * MiB, abs=0.01 * MiB
    )


def test_budget_from_the_system_uses_the_settings() -> None:
    memory = load_settings().settings.memory

    budget = MemoryBudget.from_system(memory)

    assert budget.total_bytes >= budget.available_bytes > 0
    assert budget.max_memory_percent == memory.max_memory_percent
    assert budget.min_free_bytes == memory.min_free_memory_mb * MiB


def test_fits(tiny: GGUFInfo) -> None:
    needed = estimate_memory(tiny, 2048).total_bytes

    result = check_fit(tiny, 2048, budget_with(needed + 1))

    assert result.verdict == "fits"
    assert result.max_context == 2048
    assert result.estimate == estimate_memory(tiny, 2048)
    assert result.message.startswith("fits: needs ")
    assert "at 2048 tokens" in result.message


def test_fits_with_a_shorter_context(tiny: GGUFInfo) -> None:
    result = check_fit(tiny, 2048, budget_with(estimate_memory(tiny, 1024).total_bytes))

    assert result.verdict == "shorter_context"
    assert result.max_context == 1024
    assert result.message.endswith("fits with a context of 1024")
    assert "at 2048 tokens" in result.message


def test_too_large_even_at_the_shortest_context(tiny: GGUFInfo) -> None:
    result = check_fit(tiny, 2048, budget_with(estimate_memory(tiny, 256).total_bytes - 1))

    assert result.verdict == "too_large"
    assert result.max_context == 0
    assert re.fullmatch(
        r"too large: needs [0-9.]+ MB even at 256 tokens of context, [0-9.]+ MB available", result.message
    )


def test_the_replaced_models_memory_counts_as_free(tiny: GGUFInfo) -> None:
    needed = estimate_memory(tiny, 2048).total_bytes
    budget = budget_with(needed // 2)

    assert check_fit(tiny, 2048, budget).verdict != "fits"
    assert check_fit(tiny, 2048, budget, already_loaded_bytes=needed).verdict == "fits"


def test_largest_fitting_picks_the_highest_precision_that_fits(tiny_rungs: list[GGUFInfo]) -> None:
    by_rung = {info.quantization: info for info in tiny_rungs}
    need = {rung: estimate_memory(info, 2048).total_bytes for rung, info in by_rung.items()}
    assert need["q4_k_m"] < need["q8_0"] < need["f16"]

    assert largest_fitting(tiny_rungs, 2048, budget_with(need["f16"])) is by_rung["f16"]
    assert largest_fitting(tiny_rungs, 2048, budget_with(need["f16"] - 1)) is by_rung["q8_0"]
    assert largest_fitting(tiny_rungs, 2048, budget_with(need["q8_0"] - 1)) is by_rung["q4_k_m"]
    assert largest_fitting(tiny_rungs, 2048, budget_with(need["q4_k_m"] - 1)) is None


def test_an_estimate_is_plain_data() -> None:
    estimate = MemoryEstimate(1, 2, 3, 4, 256)

    assert estimate.total_bytes == 10
    assert estimate.total_mb == pytest.approx(10 / MiB)


def test_memory_kept_for_the_embeddings_model_is_not_offered_to_the_model(tiny: GGUFInfo) -> None:
    from dataclasses import replace

    from reflexia.core.rag.embedder import FIRST_LOAD_BYTES

    needed = estimate_memory(tiny, 2048).total_bytes
    budget = budget_with(needed + FIRST_LOAD_BYTES // 2)
    assert check_fit(tiny, 2048, budget).verdict == "fits"
    # Documents are on and the embedder is not loaded yet: the model must leave room for it.
    assert check_fit(tiny, 2048, replace(budget, reserved_bytes=FIRST_LOAD_BYTES)).verdict == "too_large"
