"""The response cache keeps the least recently used replies up to its size, and only complete ones."""

from __future__ import annotations

from pathlib import Path

from reflexia.core.engine.conversation import ChatMessage
from reflexia.core.engine.response_cache import ResponseCache, cache_key
from reflexia.core.engine.values import (
    GenerationRequest,
    GenerationResult,
    GenerationStats,
    ModelInfo,
    ModelRef,
    SamplingParams,
)

MODEL = ModelInfo(
    ModelRef.file(Path("m.gguf")), "m", "llama", "q4_k_m", 1, 1, 2048, 2048, 2, 0, 0.1, "llama.cpp"
)
GREEDY = SamplingParams(temperature=0.0)


def _result(text: str, stop: str = "eos") -> GenerationResult:
    return GenerationResult(text, GenerationStats(5, 0, 3, 0.1, 50.0, 30.0, 0.2, stop))


def _key(question: str, sampling: SamplingParams = GREEDY, role: str = "Assistant") -> object:
    return cache_key(GenerationRequest((ChatMessage("user", question),), sampling), MODEL, role)


def test_least_recently_used_replies_go_first() -> None:
    cache = ResponseCache(2)
    cache.put(_key("a"), _result("A"))
    cache.put(_key("b"), _result("B"))
    assert cache.get(_key("a")).text == "A"
    cache.put(_key("c"), _result("C"))
    assert cache.get(_key("b")) is None
    assert cache.get(_key("a")).from_cache
    cache.set_capacity(1)
    assert len(cache) == 1


def test_only_greedy_complete_replies_are_kept() -> None:
    cache = ResponseCache(8)
    assert _key("a", SamplingParams(temperature=0.7)) is None
    cache.put(_key("stopped"), _result("half", "cancelled"))
    assert cache.get(_key("stopped")) is None
    assert _key("a", role="Code Assistant") != _key("a")
