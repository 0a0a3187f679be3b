"""How much memory a model needs at a given context, and whether it fits the budget.

The estimate mirrors what llama.cpp allocates when ``LlamaCppBackend`` loads a
model: the weights (memory-mapped, resident once used), the KV cache, the
compute buffers of the graph scheduler, and a fixed runtime overhead. The
compute-buffer formula is derived from the llama graph and was checked against
llama.cpp's own "compute buffer size" log line (see benchmarks/README.md).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final, Literal

import gguf

from reflexia.core.config.settings import MemorySettings
from reflexia.core.engine.llama_cpp.devices import gpu_working_set_bytes
from reflexia.core.engine.llama_cpp.options import FLASH_ATTENTION, SAVED_STATE_SHARE
from reflexia.core.hardware import is_apple_silicon
from reflexia.core.memory.monitor import read_system_memory
from reflexia.core.models.catalog import precision_key
from reflexia.core.models.gguf_file import GGUFInfo
from reflexia.core.units import MB, human_size

__all__ = [
    "CONTEXT_STEP",
    "FitResult",
    "FitVerdict",
    "MemoryBudget",
    "MemoryEstimate",
    "check_fit",
    "estimate_memory",
    "graph_buffer_bytes",
    "largest_fitting",
]

#: llama.cpp rounds the context up to a multiple of this (``GGML_PAD(n_ctx, 256)``).
CONTEXT_STEP: Final = 256
_MAX_CONTEXT: Final = 1_048_576  # the settings' upper bound, for models without a trained context
# Measured with benchmarks/memory_estimate.py: library code pages that running touches
# (2.4 MB) plus ggml contexts, graph metadata and the thread pool.
_RUNTIME_OVERHEAD: Final = 3 * MB
# The tokenizer's tables (token text, score, attributes, text-to-id map, piece cache):
# about 166 bytes per token measured between 1k- and 64k-token vocabularies.
_VOCAB_BYTES_PER_TOKEN: Final = 170
_BLOCK = re.compile(r"blk\.(\d+)\.")

FitVerdict = Literal["fits", "shorter_context", "too_large"]


@dataclass(frozen=True)
class MemoryEstimate:
    """Memory a loaded model needs, in bytes.

    Attributes:
        weights_bytes: Tensor data kept in system memory.
        kv_cache_bytes: Keys and values for every token of the context.
        compute_bytes: Scratch memory of one batch: graph buffers, matrix work
            buffer and the logits output buffer.
        overhead_bytes: llama.cpp's fixed costs: tokenizer, contexts, threads.
        context_length: The context llama.cpp allocates (clamped, rounded up to 256).
        saved_states_bytes: The most the saved KV caches of recent conversations may take
            (the engine bounds them at a share of one full cache).
    """

    weights_bytes: int
    kv_cache_bytes: int
    compute_bytes: int
    overhead_bytes: int
    context_length: int
    saved_states_bytes: int = 0

    @property
    def loaded_bytes(self) -> int:
        """What loading takes, before any conversation's cache is saved."""
        return self.weights_bytes + self.kv_cache_bytes + self.compute_bytes + self.overhead_bytes

    @property
    def total_bytes(self) -> int:
        """The sum of the parts: what the model may come to take."""
        return self.loaded_bytes + self.saved_states_bytes

    @property
    def total_mb(self) -> float:
        """The total in MB (1024 × 1024 bytes, as llama.cpp and the memory settings count)."""
        return self.total_bytes / MB


def _metadata_int(info: GGUFInfo, key: str) -> int | None:
    value = info.metadata.get(f"{info.architecture}.{key}")
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _ffn_width(info: GGUFInfo, embedding: int) -> int:
    width = _metadata_int(info, "feed_forward_length")
    if width is None:  # per-layer widths are an array: read the width off a tensor
        shapes = [t.shape for t in info.tensors if t.name.endswith("ffn_up.weight") and len(t.shape) >= 2]
        width = max((s[1] for s in shapes), default=4 * embedding)
    experts = _metadata_int(info, "expert_used_count")
    expert_width = _metadata_int(info, "expert_feed_forward_length")
    if experts and expert_width:  # mixture of experts: the chosen experts' rows are live at once
        width = max(width, experts * expert_width)
    return width


def _bytes_per_element(type_name: str) -> float:
    try:
        block, size = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType[type_name.upper()]]
    except KeyError:
        raise ValueError(f"unknown KV cache type {type_name!r}") from None
    return size / block


def _effective_context(info: GGUFInfo, context_length: int) -> tuple[int, int]:
    """(context asked of llama.cpp after clamping, context it allocates after padding)."""
    asked = max(1, context_length)
    if info.context_length:
        asked = min(asked, info.context_length)
    return asked, -(-asked // CONTEXT_STEP) * CONTEXT_STEP


@functools.cache
def _gpu_offload_available() -> bool:
    import llama_cpp  # deferred: only a GPU question needs the native library

    return bool(llama_cpp.llama_supports_gpu_offload())


def _weights_in_system_memory(info: GGUFInfo, gpu_layers: int) -> int:
    total = sum(t.n_bytes for t in info.tensors)
    # Apple Silicon has unified memory: offloaded layers still use system memory. A CPU-only
    # build (this machine) offloads nothing. Only a discrete-GPU build moves weights to VRAM:
    # llama.cpp offloads the last ``gpu_layers`` blocks, and the output layer once all are.
    if gpu_layers == 0 or is_apple_silicon() or not _gpu_offload_available():
        return total
    blocks = info.block_count or 0
    offloaded = blocks + 1 if gpu_layers < 0 else min(gpu_layers, blocks + 1)
    first = blocks - offloaded
    in_vram = sum(
        t.n_bytes
        for t in info.tensors
        if ((m := _BLOCK.match(t.name)) and int(m.group(1)) >= first)
        or (offloaded > blocks and t.name.startswith("output"))
    )
    return total - in_vram


def graph_buffer_bytes(
    info: GGUFInfo, context_length: int, *, batch_size: int = 512, logits_for_all_tokens: bool = False
) -> int:
    """The graph scheduler's buffer: what llama.cpp logs as "compute buffer size".

    Args:
        info: The model file's metadata.
        context_length: Tokens of context asked for (clamped and rounded as llama.cpp does).
        batch_size: Prompt tokens per decode call (n_batch = n_ubatch).
        logits_for_all_tokens: Count logits for every token of a batch, as llama.cpp
            reserves them; our engine only ever asks for the last token's row.

    Returns:
        The buffer size in bytes, for the CPU backend with flash attention (the engine
        switches it on explicitly: ``FLASH_ATTENTION``).
    """
    if not FLASH_ATTENTION:  # pragma: no cover - a guard for whoever changes the engine
        raise NotImplementedError("the estimate assumes flash attention, as the engine loads")
    asked, n_ctx = _effective_context(info, context_length)
    embedding = info.embedding_length or 4096
    vocab = info.vocab_size or 32_000
    tokens = min(batch_size, asked)
    # The scheduler sizes one buffer for a micro-batch of ``tokens`` and reuses memory between
    # stages, so it needs the larger of two stages' live tensors (all f32). Inside a layer: the
    # FFN's gate, up and gated product (3 rows of ffn width) beside the residual stream, the
    # attention output, the norm and the FFN output (4 rows of embedding width). At the head:
    # the logits of every output row plus the last hidden state and its norm. llama.cpp
    # reserves logits for all ``tokens``; the rows our engine does not ask for are never
    # touched, so they never become resident.
    outputs = tokens if logits_for_all_tokens else 1
    layer_stage = 4 * tokens * (3 * _ffn_width(info, embedding) + 4 * embedding)
    head_stage = 4 * (outputs * vocab + 2 * tokens * embedding)
    # Flash attention (llama.cpp's default wherever supported) never materializes attention
    # scores: attention adds only its f16 mask, tokens x context.
    mask = 2 * tokens * n_ctx
    graph_inputs = 24 * tokens  # positions, output ids, KV slot indices
    return max(layer_stage, head_stage) + mask + graph_inputs


def estimate_memory(
    info: GGUFInfo,
    context_length: int,
    *,
    kv_cache_type: str = "f16",
    batch_size: int = 512,
    gpu_layers: int = 0,
) -> MemoryEstimate:
    """Estimate the system memory of a model loaded as ``LlamaCppBackend`` loads it.

    Args:
        info: The model file's metadata.
        context_length: Tokens of context asked for; clamped to the trained
            context, then rounded up to a multiple of 256 as llama.cpp does.
        kv_cache_type: ggml type of the KV cache (``f16``, ``q8_0``, ...).
        batch_size: Prompt tokens per decode call (n_batch = n_ubatch).
        gpu_layers: Layers offloaded; -1 means all. Only a discrete-GPU build
            keeps offloaded weights out of system memory.

    Returns:
        The estimate, part by part.

    Raises:
        ValueError: ``kv_cache_type`` is not a ggml type.
    """
    asked, n_ctx = _effective_context(info, context_length)
    embedding = info.embedding_length or 4096
    heads = info.head_count or 1
    kv_heads = info.head_count_kv or heads
    vocab = info.vocab_size or 32_000
    key_dim = _metadata_int(info, "attention.key_length") or embedding // heads
    value_dim = _metadata_int(info, "attention.value_length") or embedding // heads
    # Keys and values of every layer for every cell; llama.cpp zeroes the cache, so all of it
    # is resident from the start.
    kv_cache = (info.block_count or 1) * n_ctx * kv_heads * (key_dim + value_dim)
    tokens = min(batch_size, asked)
    # Beside the graph buffer, the CPU backend converts activations for matrix products in a
    # work buffer (at most f16, 2 bytes per value) and keeps one row of logits for sampling.
    work = 2 * tokens * max(embedding, _ffn_width(info, embedding))
    output = 4 * (vocab + embedding)
    return MemoryEstimate(
        weights_bytes=_weights_in_system_memory(info, gpu_layers),
        kv_cache_bytes=round(kv_cache * _bytes_per_element(kv_cache_type)),
        compute_bytes=graph_buffer_bytes(info, context_length, batch_size=batch_size) + work + output,
        overhead_bytes=_RUNTIME_OVERHEAD + _VOCAB_BYTES_PER_TOKEN * vocab,
        context_length=n_ctx,
        saved_states_bytes=round(kv_cache * _bytes_per_element(kv_cache_type) * SAVED_STATE_SHARE),
    )


@dataclass(frozen=True)
class MemoryBudget:
    """The memory a model may use, from the machine's state and the user's limits.

    Attributes:
        total_bytes: Physical memory.
        available_bytes: Memory available now without swapping (as the system counts it).
        max_memory_percent: At most this share of total memory may be in use, by all programs.
        min_free_bytes: Always leave this much available.
        reserved_bytes: Set aside for something about to load beside the model (the embeddings model).
        gpu_working_set_bytes: On unified memory (Apple Silicon), the most the GPU lets this
            process use (Metal's ``recommendedMaxWorkingSetSize``); None where there is no such limit.
    """

    total_bytes: int
    available_bytes: int
    max_memory_percent: float
    min_free_bytes: int
    reserved_bytes: int = 0
    gpu_working_set_bytes: int | None = None

    @classmethod
    def from_system(cls, settings: MemorySettings, reserved_bytes: int = 0) -> MemoryBudget:
        """The budget now, from the system's memory and the memory settings, less ``reserved_bytes``."""
        memory = read_system_memory()
        return cls(
            total_bytes=memory.total_bytes,
            available_bytes=memory.available_bytes,
            max_memory_percent=float(settings.max_memory_percent),
            min_free_bytes=settings.min_free_memory_mb * MB,
            reserved_bytes=reserved_bytes,
            gpu_working_set_bytes=gpu_working_set_bytes() if is_apple_silicon() else None,
        )

    def usable_bytes(self, already_loaded_bytes: int = 0) -> int:
        """Memory a model may use now, counting the replaced model's memory as freed.

        Args:
            already_loaded_bytes: Memory of the model that loading will unload first.

        Returns:
            The smaller of "available less the free floor" and "the percentage cap less
            what everything else uses"; never below 0.
        """
        available = self.available_bytes + already_loaded_bytes
        used_by_others = self.total_bytes - available
        under_cap = self.total_bytes * self.max_memory_percent / 100 - used_by_others
        return max(0, int(min(available - self.min_free_bytes, under_cap)) - self.reserved_bytes)


@dataclass(frozen=True)
class FitResult:
    """Whether a model fits the budget, and at which context.

    Attributes:
        verdict: ``fits`` at the requested context, fits only with a
            ``shorter_context``, or ``too_large`` even at 256 tokens.
        estimate: The estimate at the requested context.
        max_context: The largest context that fits (a multiple of 256, at most
            the trained context), or 0 if none does.
        message: One line for the user.
    """

    verdict: FitVerdict
    estimate: MemoryEstimate
    max_context: int
    message: str
    gpu_layers: int | None = None  # layers to offload when fewer than configured fit the GPU


#: A shorter context that keeps every layer on the GPU is preferred down to this many tokens;
#: below it the context asked for stays and some layers run on the CPU instead.
_SHORTEST_USEFUL_CONTEXT: Final = 2048


def gpu_bytes(info: GGUFInfo, estimate: MemoryEstimate, gpu_layers: int) -> int:
    """What the GPU holds with ``gpu_layers`` offloaded (-1: all).

    The offloaded layers' weights and KV cache, the output layer once every block is offloaded,
    and the compute buffer.
    """
    blocks = info.block_count or 1
    offloaded = blocks + 1 if gpu_layers < 0 else min(gpu_layers, blocks + 1)
    block_weights = sum(t.n_bytes for t in info.tensors if _BLOCK.match(t.name))
    output = sum(t.n_bytes for t in info.tensors if t.name.startswith("output"))
    share = min(offloaded, blocks) / blocks
    layers = round(share * (block_weights + estimate.kv_cache_bytes))
    return layers + (output if offloaded > blocks else 0) + (estimate.compute_bytes if offloaded else 0)


def _layers_within(info: GGUFInfo, estimate: MemoryEstimate, ceiling: int) -> int:
    """The most blocks whose GPU share stays within ``ceiling`` (0: none)."""
    blocks = info.block_count or 1
    return max((n for n in range(blocks + 1) if gpu_bytes(info, estimate, n) <= ceiling), default=0)


def check_fit(
    info: GGUFInfo,
    context_length: int,
    budget: MemoryBudget,
    *,
    already_loaded_bytes: int = 0,
    gpu_layers: int = 0,
    batch_size: int = 512,
) -> FitResult:
    """Check a model against the budget at a context, and find the longest context that fits.

    Args:
        info: The model file's metadata.
        context_length: Tokens of context the user asked for.
        budget: The memory budget now.
        already_loaded_bytes: Memory of the model this one would replace.
        gpu_layers: Layers offloaded, as for :func:`estimate_memory`.
        batch_size: The engine's batch size (the configured one), as for :func:`estimate_memory`.

    Returns:
        The verdict, the estimate, the largest fitting context and a message.
    """
    usable = budget.usable_bytes(already_loaded_bytes)
    working_set = budget.gpu_working_set_bytes if gpu_layers != 0 else None

    def needs(context: int) -> MemoryEstimate:
        return estimate_memory(info, context, gpu_layers=gpu_layers, batch_size=batch_size)

    def in_ram(context: int) -> bool:
        return needs(context).total_bytes <= usable

    def on_gpu(context: int) -> bool:
        return working_set is None or gpu_bytes(info, needs(context), gpu_layers) <= working_set

    estimate = needs(context_length)
    ram_context = _longest_context(info, in_ram)
    have = human_size(usable)
    needs_at = f"needs {human_size(estimate.total_bytes)} at {estimate.context_length} tokens"
    if working_set is not None and ram_context and not on_gpu(context_length):
        return _fit_the_gpu(info, context_length, estimate, ram_context, working_set, needs, in_ram, on_gpu)
    if estimate.total_bytes <= usable:
        message = f"fits: {needs_at}; {have} is available within your budget"
        return FitResult("fits", estimate, ram_context, message)
    if ram_context:
        message = f"{needs_at}; {have} is available within your budget — fits with a context of {ram_context}"
        return FitResult("shorter_context", estimate, ram_context, message)
    smallest = human_size(needs(CONTEXT_STEP).total_bytes)
    message = f"too large: needs {smallest} even at {CONTEXT_STEP} tokens of context, {have} available"
    return FitResult("too_large", estimate, 0, message)


def _longest_context(info: GGUFInfo, fits_at: Callable[[int], bool]) -> int:
    """The longest context (a multiple of 256, at most the trained one) that ``fits_at``; 0 if none."""
    ceiling = max(CONTEXT_STEP, (info.context_length or _MAX_CONTEXT) // CONTEXT_STEP * CONTEXT_STEP)
    # What a model needs grows with the context, so bisect over multiples of 256.
    low, high = 0, ceiling // CONTEXT_STEP
    while low < high:
        middle = (low + high + 1) // 2
        if fits_at(middle * CONTEXT_STEP):
            low = middle
        else:
            high = middle - 1
    return low * CONTEXT_STEP


def _fit_the_gpu(
    info: GGUFInfo,
    context_length: int,
    estimate: MemoryEstimate,
    ram_context: int,
    working_set: int,
    needs: Callable[[int], MemoryEstimate],
    in_ram: Callable[[int], bool],
    on_gpu: Callable[[int], bool],
) -> FitResult:
    """The model fits RAM but not the GPU's working set: a shorter context, or some layers on the CPU."""
    limit = f"Metal lets Reflexia use at most {human_size(working_set)} of GPU memory (its working set)"
    gpu_context = _longest_context(info, lambda context: in_ram(context) and on_gpu(context))
    if gpu_context >= min(_asked_context(info, context_length), _SHORTEST_USEFUL_CONTEXT):
        message = f"{limit}: every layer fits there with a context of {gpu_context}"
        return FitResult("shorter_context", estimate, gpu_context, message)
    context = min(_asked_context(info, context_length), ram_context)
    at = needs(context)
    layers, blocks = _layers_within(info, at, working_set), info.block_count or 1
    where = f"{layers} of {blocks} layers run on the GPU and the rest on the CPU, more slowly"
    if layers == 0:
        where = "the layers run on the CPU, more slowly"
    if context < _asked_context(info, context_length):
        message = f"{limit}, so {where}; RAM fits a context of {context}"
        return FitResult("shorter_context", estimate, context, message, gpu_layers=layers)
    message = f"fits: {limit}, so {where}"
    return FitResult("fits", estimate, ram_context, message, gpu_layers=layers)


def _asked_context(info: GGUFInfo, context_length: int) -> int:
    return _effective_context(info, context_length)[0]


def largest_fitting(
    infos: Iterable[GGUFInfo],
    context_length: int,
    budget: MemoryBudget,
    *,
    already_loaded_bytes: int = 0,
) -> GGUFInfo | None:
    """The highest-precision file of a family that fits the budget at ``context_length``.

    Args:
        infos: The family's files (any order).
        context_length: Tokens of context the user asked for.
        budget: The memory budget now.
        already_loaded_bytes: Memory of the model this one would replace.

    Returns:
        The best file that fits, or None if none does.
    """
    usable = budget.usable_bytes(already_loaded_bytes)
    fitting = [i for i in infos if estimate_memory(i, context_length).total_bytes <= usable]
    return max(fitting, key=precision_key, default=None)
