"""Answers to repeated deterministic questions, kept in a bounded LRU cache.

Only greedy requests (temperature 0) are deterministic, so only they are kept:
the same model file at the same rung, the same role and the same messages
(conversation, system prompt and any retrieved text) always get the same reply.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, replace

from reflexia.core.engine.values import (
    GenerationRequest,
    GenerationResult,
    ModelInfo,
    Passage,
    SamplingParams,
)

_KEPT_STOPS = frozenset({"eos", "length"})  # a stopped or truncated reply is not the answer


@dataclass(frozen=True)
class CacheKey:
    """Everything that decides a greedy reply."""

    model: str
    quantization: str
    role: str
    messages: tuple[tuple[str, str], ...]
    passages: tuple[Passage, ...] | None
    sampling: SamplingParams


def cache_key(request: GenerationRequest, model: ModelInfo, role: str) -> CacheKey | None:
    """The key of a request whose reply is deterministic; None when it is sampled."""
    if request.sampling.temperature > 0 or request.ignore_eos:
        return None
    messages = tuple((m.role, m.content) for m in request.messages)
    return CacheKey(str(model.ref), model.quantization, role, messages, request.passages, request.sampling)


class ResponseCache:
    """A bounded LRU of replies. Not thread-safe: the GUI thread owns it."""

    def __init__(self, capacity: int) -> None:
        self._capacity = max(0, capacity)
        self._entries: OrderedDict[CacheKey, GenerationResult] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def capacity(self) -> int:
        """The most replies kept; 0 turns the cache off."""
        return self._capacity

    def set_capacity(self, capacity: int) -> None:
        """Change the bound, dropping the least recently used replies beyond it."""
        self._capacity = max(0, capacity)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def get(self, key: CacheKey | None) -> GenerationResult | None:
        """The kept reply, marked as answered from the cache, or None."""
        if key is None or key not in self._entries:
            return None
        self._entries.move_to_end(key)
        return replace(self._entries[key], from_cache=True)

    def put(self, key: CacheKey | None, result: GenerationResult) -> None:
        """Keep a finished reply (not one that was stopped, failed or cut by the context)."""
        if key is None or self._capacity == 0 or result.stats.stop_reason not in _KEPT_STOPS:
            return
        self._entries[key] = result
        self._entries.move_to_end(key)
        if len(self._entries) > self._capacity:
            self._entries.popitem(last=False)
