"""Base (completion) models, whose GGUF has no chat template: Gemma 3 270M, for real.

Given ChatML, Gemma 3 270M wrote literal ``<|im_end|>`` and invented further turns until
the length limit. It now continues a plain transcript, and its reply ends where it starts
the user's next line.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from reflexia.core.engine.conversation import Conversation
from reflexia.core.engine.llama_cpp.engine import LlamaCppBackend
from reflexia.core.engine.llama_cpp.options import LlamaOptions
from reflexia.core.engine.reply_end import ReplyEnd
from reflexia.core.engine.values import GenerationRequest, ModelRef, SamplingParams, TokenChunk
from reflexia.core.models.gguf_file import read_gguf

SHORT = SamplingParams(temperature=0.0, max_tokens=48, repeat_penalty=1.0)
MARKERS = ("<|im_end|>", "<|im_start|>", "<end_of_turn>", "<start_of_turn>")


@pytest.fixture(scope="module")
def gemma(gemma3_model: Path) -> Iterator[LlamaCppBackend]:
    engine = LlamaCppBackend(LlamaOptions(threads=2))
    engine.load(ModelRef.file(gemma3_model), 2048)
    yield engine
    engine.unload()


def test_gemma_3_270m_is_a_base_model(gemma3_model: Path) -> None:
    assert read_gguf(gemma3_model).chat_template is None


def test_a_base_model_answers_and_stops_before_the_next_user_line(gemma: LlamaCppBackend) -> None:
    chat = Conversation()
    chat.add_user("What is the capital of France?")
    chunks: list[TokenChunk] = []

    result = gemma.generate(GenerationRequest(chat.messages(), SHORT), chunks.append, threading.Event())

    assert "Paris" in result.text
    assert not any(marker in result.text for marker in MARKERS)
    assert "User" not in result.text
    assert result.stats.stop_reason == "eos"
    assert "".join(c.text for c in chunks) == result.text  # nothing of "User:" was shown either


def test_the_next_turn_reuses_the_cache_after_a_cut_reply(gemma: LlamaCppBackend) -> None:
    chat = Conversation()
    chat.add_user("Hi, my name is Ada.")
    first = gemma.generate(GenerationRequest(chat.messages(), SHORT, "ada"), None, threading.Event())
    chat.add_assistant(first.text)
    chat.add_user("What is my name?")

    second = gemma.generate(GenerationRequest(chat.messages(), SHORT, "ada"), None, threading.Event())

    assert second.stats.cached_prompt_tokens >= first.stats.prompt_tokens
    assert "Ada" in second.text
    assert not any(marker in second.text for marker in MARKERS)
    assert second.stats.completion_tokens < SHORT.max_tokens


def test_text_that_may_start_the_next_line_is_held_back() -> None:
    ending = ReplyEnd(("\nUser:",))
    shown = [ending.add(piece) for piece in (" Paris", ".", "\n", "\nUs")]
    assert shown == [" Paris", ".", "", ""]
    assert not ending.ended
    assert ending.add("er: and") == ""
    assert ending.ended and ending.text == " Paris."
    assert ending.finish() == ""


def test_held_back_text_is_shown_when_it_was_not_a_stop() -> None:
    ending = ReplyEnd(("\nUser:",))
    assert ending.add("Yes\nUs") == "Yes"
    assert ending.add("ually.") == "\nUsually."
    assert ending.add("\n") == ""
    assert ending.finish() == "\n"
    assert ending.text == "Yes\nUsually.\n"
