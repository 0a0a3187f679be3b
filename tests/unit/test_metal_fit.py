"""The fit verdict under Metal's working-set limit (Apple Silicon), on real generated models.

All layers go to the GPU there, and Metal lets one process use at most the device's
recommendedMaxWorkingSetSize, well below the RAM. A model that fits RAM but not that limit gets a
shorter context (every layer still on the GPU), or its context with some layers on the CPU.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reflexia.core.engine.llama_cpp.devices import compute_devices, gpu_working_set_bytes
from reflexia.core.memory.estimate import MemoryBudget, check_fit, estimate_memory, gpu_bytes
from reflexia.core.models.gguf_file import GGUFInfo, read_gguf

GB = 1024**3


def _budget(working_set: int | None) -> MemoryBudget:
    """Plenty of RAM; the GPU's working set is the only limit."""
    return MemoryBudget(64 * GB, 48 * GB, 100, 0, gpu_working_set_bytes=working_set)


@pytest.fixture(scope="module")
def small(small_model: Path) -> GGUFInfo:
    return read_gguf(small_model)  # 4 blocks, trained on 4096 tokens


@pytest.fixture(scope="module")
def tiny(tiny_f16_model: Path) -> GGUFInfo:
    return read_gguf(tiny_f16_model)  # 2 blocks, trained on 2048 tokens


def test_what_the_gpu_holds_grows_with_the_layers_offloaded(small: GGUFInfo) -> None:
    estimate = estimate_memory(small, 4096, gpu_layers=-1)
    held = [gpu_bytes(small, estimate, n) for n in range(6)]
    assert held[0] == 0 and held == sorted(held) and held[5] == gpu_bytes(small, estimate, -1)
    assert gpu_bytes(small, estimate, -1) < estimate.total_bytes  # the tokenizer and runtime stay on the CPU


def test_within_the_working_set_the_verdict_is_unchanged(small: GGUFInfo) -> None:
    roomy = check_fit(small, 4096, _budget(8 * GB), gpu_layers=-1)
    assert roomy.verdict == "fits" and roomy.gpu_layers is None
    assert roomy == check_fit(small, 4096, _budget(None), gpu_layers=-1)


def test_a_model_over_the_working_set_gets_a_shorter_context_on_the_gpu(small: GGUFInfo) -> None:
    at_2048 = gpu_bytes(small, estimate_memory(small, 2048, gpu_layers=-1), -1)
    fit = check_fit(small, 4096, _budget(at_2048), gpu_layers=-1)
    assert fit.verdict == "shorter_context" and fit.gpu_layers is None
    assert 2048 <= fit.max_context < 4096
    assert "Metal lets Reflexia use at most" in fit.message and "working set" in fit.message
    assert "every layer fits there with a context of" in fit.message


def test_when_even_a_short_context_is_too_much_some_layers_run_on_the_cpu(tiny: GGUFInfo) -> None:
    estimate = estimate_memory(tiny, 2048, gpu_layers=-1)
    fit = check_fit(tiny, 2048, _budget(gpu_bytes(tiny, estimate, 1)), gpu_layers=-1)
    assert fit.verdict == "fits" and fit.gpu_layers == 1
    assert "1 of 2 layers run on the GPU and the rest on the CPU, more slowly" in fit.message
    nothing = check_fit(tiny, 2048, _budget(1), gpu_layers=-1)
    assert nothing.gpu_layers == 0 and "the layers run on the CPU" in nothing.message


def test_without_offloading_the_working_set_does_not_matter(tiny: GGUFInfo) -> None:
    assert check_fit(tiny, 2048, _budget(1), gpu_layers=0).gpu_layers is None


def test_llama_cpps_device_list_is_read_here() -> None:
    devices = compute_devices()  # the real ggml device API of this build
    cpu = [d for d in devices if d.kind == "cpu"]
    assert cpu and cpu[0].total_bytes > GB and not cpu[0].is_gpu
    assert gpu_working_set_bytes() is None  # a CPU-only build has no working-set limit
