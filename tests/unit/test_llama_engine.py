"""The llama.cpp backend on real generated GGUF models."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from reflexia.core.engine.chat_template import CHATML_TEMPLATE, render_prompt
from reflexia.core.engine.conversation import ChatMessage, Conversation
from reflexia.core.engine.llama_cpp.engine import LlamaCppBackend, common_prefix_length
from reflexia.core.engine.llama_cpp.options import LlamaOptions
from reflexia.core.engine.values import GenerationRequest, ModelRef, SamplingParams, TokenChunk
from reflexia.core.errors import GenerationError, ModelFileError, ModelLoadError
from tests.malformed_gguf import write_minimal

GREEDY = SamplingParams(temperature=0.0, max_tokens=24, repeat_penalty=1.0)


@pytest.fixture
def backend(tiny_model: Path) -> LlamaCppBackend:
    engine = LlamaCppBackend(LlamaOptions(threads=2))
    engine.load(ModelRef.file(tiny_model), 2048)
    yield engine
    engine.unload()


def _ask(text: str, system: str = "Be brief.") -> tuple[ChatMessage, ...]:
    return (ChatMessage("system", system), ChatMessage("user", text))


def test_load_reports_the_model(backend: LlamaCppBackend, tiny_model: Path) -> None:
    info = backend.model
    assert info is not None
    assert info.path == tiny_model
    assert info.architecture == "llama"
    assert info.quantization == "q4_k_m"
    assert info.context_length == 2048
    assert info.threads == 2
    assert info.gpu_layers == 0  # no GPU backend on this machine
    assert info.load_s > 0
    assert info.parameter_count > 1_000_000


def test_streamed_tokens_add_up_to_the_reply(backend: LlamaCppBackend) -> None:
    chunks: list[TokenChunk] = []
    result = backend.generate(
        GenerationRequest(_ask("Hello"), GREEDY, ignore_eos=True), chunks.append, threading.Event()
    )
    assert result.stats.completion_tokens == 24
    assert sorted({c.index for c in chunks}) == list(range(24))  # plus a UTF-8 flush, maybe
    assert "".join(c.text for c in chunks) == result.text
    assert result.text.strip()
    stats = result.stats
    assert stats.stop_reason == "length"
    assert stats.prompt_tokens > 10
    assert 0 < stats.ttft_s <= stats.total_s
    assert stats.tokens_per_s > 0 and stats.prompt_tokens_per_s > 0


def test_greedy_decoding_is_repeatable_across_loads(tiny_model: Path) -> None:
    texts = []
    for _ in range(2):
        engine = LlamaCppBackend()
        engine.load(ModelRef.file(tiny_model), 1024)
        texts.append(engine.generate(GenerationRequest(_ask("Hi"), GREEDY), None, threading.Event()).text)
        engine.unload()
    assert texts[0] == texts[1]


def test_seeded_sampling_is_repeatable_and_seed_matters(backend: LlamaCppBackend) -> None:
    def sample(seed: int) -> str:
        params = SamplingParams(temperature=1.0, top_k=0, top_p=1.0, min_p=0.0, max_tokens=32, seed=seed)
        request = GenerationRequest(_ask("Tell me a story"), params, ignore_eos=True)
        return backend.generate(request, None, threading.Event()).text

    assert sample(7) == sample(7)
    assert sample(7) != sample(8)


def test_cancel_stops_within_one_token(backend: LlamaCppBackend) -> None:
    cancel = threading.Event()
    seen: list[int] = []

    def on_token(chunk: TokenChunk) -> None:
        seen.append(chunk.index)
        if chunk.index == 4:
            cancel.set()

    params = SamplingParams(temperature=0.0, max_tokens=500)
    result = backend.generate(GenerationRequest(_ask("Go on"), params, ignore_eos=True), on_token, cancel)
    assert result.stats.stop_reason == "cancelled"
    assert result.stats.completion_tokens == 5 == len(seen)


def test_cancel_before_start_produces_nothing(backend: LlamaCppBackend) -> None:
    cancel = threading.Event()
    cancel.set()
    result = backend.generate(GenerationRequest(_ask("Hi"), GREEDY), None, cancel)
    assert result.text == ""
    assert result.stats.stop_reason == "cancelled"
    # and the engine is still usable afterwards
    again = backend.generate(GenerationRequest(_ask("Hi"), GREEDY), None, threading.Event())
    assert again.stats.completion_tokens > 0


def test_next_turn_reuses_the_kv_cache(backend: LlamaCppBackend) -> None:
    chat = Conversation(system_prompt="You are terse.")
    evaluated: list[int] = []
    previous_total = 0
    params = SamplingParams(temperature=0.7, max_tokens=40, seed=1)
    for turn in range(8):
        chat.add_user(f"Question number {turn}: what next?")
        result = backend.generate(
            GenerationRequest(chat.messages(), params, ignore_eos=True), None, threading.Event()
        )
        chat.add_assistant(result.text)
        evaluated.append(result.stats.prompt_tokens - result.stats.cached_prompt_tokens)
        if turn:
            # everything before this turn's new message came from the cache
            assert result.stats.cached_prompt_tokens >= previous_total
        previous_total = result.stats.prompt_tokens + result.stats.completion_tokens - 1
    # The work before the first token stays the size of one message, not of the history.
    assert max(evaluated[1:]) <= 40
    assert max(evaluated[1:]) - min(evaluated[1:]) <= 4


def test_a_prompt_has_the_tokens_llama_cpp_gives_the_whole_text(backend: LlamaCppBackend) -> None:
    """Contents are tokenized apart from the template's markers, yet SentencePiece gets no extra spaces."""
    chat = Conversation(system_prompt="You are terse.")
    chat.add_user("hello the world")
    chat.add_assistant(" the world\n")
    chat.add_user("what now?")
    result = backend.generate(GenerationRequest(chat.messages(), GREEDY), None, threading.Event())

    prompt = render_prompt(chat.messages(), CHATML_TEMPLATE)  # the generated model's own template
    expected = backend.tokenize(prompt, add_bos=True, special=True)
    assert backend.cache.active.tokens[: result.stats.prompt_tokens] == expected


def test_regenerating_the_same_prompt_reuses_all_of_it(backend: LlamaCppBackend) -> None:
    request = GenerationRequest(_ask("Same question"), GREEDY)
    first = backend.generate(request, None, threading.Event())
    second = backend.generate(request, None, threading.Event())
    assert second.stats.cached_prompt_tokens == first.stats.prompt_tokens - 1
    assert second.text == first.text


def test_max_tokens_and_context_limits(tiny_model: Path) -> None:
    engine = LlamaCppBackend()
    engine.load(ModelRef.file(tiny_model), 256)
    try:
        long_reply = engine.generate(
            GenerationRequest(_ask("Hi"), SamplingParams(temperature=0, max_tokens=10_000), ignore_eos=True),
            None,
            threading.Event(),
        )
        assert long_reply.stats.stop_reason == "context_full"
        assert long_reply.stats.prompt_tokens + long_reply.stats.completion_tokens <= 256
        with pytest.raises(GenerationError, match="longer context"):
            engine.generate(GenerationRequest(_ask("word " * 400), GREEDY), None, threading.Event())
    finally:
        engine.unload()


def test_corrupt_file_is_refused_and_the_loaded_model_survives(
    backend: LlamaCppBackend, tmp_path: Path, tiny_model: Path
) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(tiny_model.read_bytes()[:100_000])
    with pytest.raises(ModelFileError, match="truncated"):
        backend.load(ModelRef.file(broken), 4096)
    assert backend.model is not None and backend.model.path == tiny_model
    assert backend.generate(GenerationRequest(_ask("Still there?"), GREEDY), None, threading.Event()).text


@pytest.mark.allow_error_logs  # llama.cpp logs its refusal as an error
def test_llama_cpp_decides_which_architectures_run(backend: LlamaCppBackend, tmp_path: Path) -> None:
    """No list of ours refuses a model; llama.cpp does, and the message names the architecture."""
    unknown = write_minimal(tmp_path / "newarch.gguf", "somenewarch")
    with pytest.raises(ModelLoadError, match="architecture 'somenewarch'"):
        backend.load(ModelRef.file(unknown), 512)


def test_generate_without_a_model_is_a_clear_error() -> None:
    with pytest.raises(GenerationError, match="No model is loaded"):
        LlamaCppBackend().generate(GenerationRequest(_ask("Hi")), None, threading.Event())


def test_common_prefix_length() -> None:
    assert common_prefix_length([1, 2, 3], [1, 2, 4]) == 2
    assert common_prefix_length([1, 2], [1, 2, 3]) == 2
    assert common_prefix_length([], [1]) == 0
