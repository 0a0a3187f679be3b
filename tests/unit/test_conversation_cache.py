"""The KV cache belongs to a conversation: switches, reloads and the context budget, on real llama.cpp."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from reflexia.core.engine.conversation import Conversation
from reflexia.core.engine.llama_cpp.engine import LlamaCppBackend
from reflexia.core.engine.llama_cpp.options import LlamaOptions
from reflexia.core.engine.values import GenerationRequest, GenerationResult, ModelRef, SamplingParams
from reflexia.core.errors import LoadCancelledError

GREEDY = SamplingParams(temperature=0.0, max_tokens=16, repeat_penalty=1.0)


@pytest.fixture
def backend(tiny_model: Path) -> Iterator[LlamaCppBackend]:
    engine = LlamaCppBackend(LlamaOptions(threads=2))
    engine.load(ModelRef.file(tiny_model), 2048)
    yield engine
    engine.unload()


def _turn(
    backend: LlamaCppBackend, conversation: Conversation, text: str, conversation_id: str = "a"
) -> GenerationResult:
    conversation.add_user(text)
    request = GenerationRequest(conversation.messages(), GREEDY, conversation_id)
    result = backend.generate(request, None, threading.Event())
    conversation.add_assistant(result.text)
    return result


def _fresh_prompt_tokens(model: Path, conversation: Conversation, text: str) -> int:
    """What a freshly loaded model evaluates for the next turn of ``conversation``."""
    fresh = LlamaCppBackend(LlamaOptions(threads=2))
    fresh.load(ModelRef.file(model), 2048)
    try:
        probe = Conversation(conversation.system_prompt, [*conversation.turns])
        probe.add_user(text)
        request = GenerationRequest(probe.messages(), GREEDY, "x")
        return fresh.generate(request, None, threading.Event()).stats.prompt_tokens
    finally:
        fresh.unload()


def test_after_a_reload_the_model_is_sent_the_whole_conversation(
    backend: LlamaCppBackend, tiny_model: Path
) -> None:
    conversation = Conversation("Be brief.")
    for text in ("My name is Zorblax.", "I live in a lighthouse.", "I keep three cats."):
        _turn(backend, conversation, text)
    expected = _fresh_prompt_tokens(tiny_model, conversation, "What is my name?")

    backend.load(ModelRef.file(tiny_model), 2048)  # a governor swap or a manual switch
    result = _turn(backend, conversation, "What is my name?")

    # The same tokens a fresh load of this conversation evaluates: nothing reused, nothing missing.
    assert result.stats.prompt_tokens == expected
    assert result.stats.cached_prompt_tokens == 0


def test_alternating_conversations_restores_each_ones_cache(backend: LlamaCppBackend) -> None:
    window, quick = Conversation("Be brief."), Conversation("Answer in one line.")
    _turn(backend, window, "Tell me about the sea, please, in some detail.", "window")
    second = _turn(backend, window, "And the tides?", "window")
    first = _turn(backend, quick, "What is two plus two?", "quick")
    assert first.stats.cached_prompt_tokens == 0  # nothing of the other conversation is reused

    back = _turn(backend, window, "And the moon?", "window")
    again = _turn(backend, quick, "And three plus three?", "quick")

    # Each conversation picks up where it was: its whole previous prompt comes from the cache,
    # so only the last reply's tail and the new message are evaluated.
    assert back.stats.cached_prompt_tokens >= second.stats.prompt_tokens
    assert again.stats.cached_prompt_tokens >= first.stats.prompt_tokens
    assert set(backend.cache.saved_conversations) == {"window"}  # the one not in the context now
    assert backend.cache.saved_bytes > 0


def test_a_restored_conversation_answers_exactly_as_if_it_had_never_left(tiny_model: Path) -> None:
    def replies(interleave: bool) -> list[str]:
        engine = LlamaCppBackend(LlamaOptions(threads=2))
        engine.load(ModelRef.file(tiny_model), 2048)
        try:
            main, other = Conversation("Be brief."), Conversation("Other.")
            texts = []
            for text in ("One", "Two", "Three"):
                texts.append(_turn(engine, main, text, "main").text)
                if interleave:
                    _turn(engine, other, "Something else entirely", "other")
            return texts
        finally:
            engine.unload()

    assert replies(interleave=True) == replies(interleave=False)


def test_saved_states_stay_within_their_bound(tiny_model: Path) -> None:
    engine = LlamaCppBackend(LlamaOptions(threads=2))
    engine.load(ModelRef.file(tiny_model), 256)
    try:
        bound = engine.cache._max_saved_bytes
        for index in range(8):
            _turn(engine, Conversation("Be brief."), f"Conversation number {index} " * 6, f"c{index}")
        assert len(engine.cache.saved_conversations) <= 4
        assert engine.cache.saved_bytes <= bound
    finally:
        engine.unload()


def test_a_conversation_longer_than_the_context_keeps_its_system_prompt_and_says_what_was_left_out(
    tiny_model: Path,
) -> None:
    engine = LlamaCppBackend(LlamaOptions(threads=2))
    engine.load(ModelRef.file(tiny_model), 512)
    try:
        conversation = Conversation("You are a careful assistant.")
        left_out: list[int] = []
        cached: list[int] = []
        for index in range(14):
            result = _turn(engine, conversation, f"Message {index}: " + "tell me more about rivers " * 6)
            left_out.append(result.stats.left_out_messages)
            cached.append(result.stats.cached_prompt_tokens)
        assert left_out[0] == 0 and left_out[-1] > 0  # it fitted on purpose instead of failing
        # After a cut the next turns reuse the cache: the cut stays where it was while it fits.
        cut_turns = [i for i in range(1, 14) if left_out[i] > left_out[i - 1]]
        steady = [i for i in range(1, 14) if left_out[i] == left_out[i - 1] and left_out[i] > 0]
        assert cut_turns and steady
        assert all(cached[i] > 0 for i in steady)
        # The system prompt still leads what the model sees.
        in_cache = engine.cache.active.segments[0][0]
        assert "You are a careful assistant." in in_cache.split("Message")[0]
    finally:
        engine.unload()


def test_a_cancelled_load_leaves_the_loaded_model_alone(backend: LlamaCppBackend, small_model: Path) -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(LoadCancelledError):
        backend.load(ModelRef.file(small_model), 2048, cancel)
    assert backend.model is not None and backend.model.quantization == "q4_k_m"
    still = Conversation("Be brief.")
    assert _turn(backend, still, "Still there?").stats.completion_tokens > 0
