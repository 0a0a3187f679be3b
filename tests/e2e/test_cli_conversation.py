"""`reflexia chat` without --prompt: a conversation read from standard input, as scripts hold one."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.e2e.test_cli import CHAT_JSON_TYPES, reflexia_cli

GREEDY = ("--temperature", "0", "--max-tokens", "12")


def _replies(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_turns_from_standard_input_form_one_conversation(tiny_model: Path) -> None:
    run = reflexia_cli("chat", "--model", tiny_model, *GREEDY, "--json", stdin="Hello\nAnd then?\nMore\n")
    assert run.returncode == 0, run.describe()
    replies = _replies(run.stdout)
    assert len(replies) == 3
    for reply in replies:
        assert all(isinstance(reply[key], types) for key, types in CHAT_JSON_TYPES.items())
        assert isinstance(reply["cached_prompt_tokens"], int)
    # Each turn carries the whole conversation, and only what is new is evaluated.
    assert replies[0]["prompt_tokens"] < replies[1]["prompt_tokens"] < replies[2]["prompt_tokens"]
    assert replies[0]["cached_prompt_tokens"] == 0
    assert replies[1]["cached_prompt_tokens"] >= replies[0]["prompt_tokens"]
    assert replies[2]["cached_prompt_tokens"] >= replies[1]["prompt_tokens"]


def test_new_starts_over_and_streaming_prints_each_reply_on_its_line(tiny_model: Path) -> None:
    run = reflexia_cli("chat", "--model", tiny_model, *GREEDY, stdin="Hello\n/new\nHello\n")
    assert run.returncode == 0, run.describe()
    lines = run.stdout.splitlines()
    assert len(lines) == 2 and lines[0] == lines[1]  # the same first turn gets the same greedy reply
    assert "new conversation" in run.stderr
    json_run = reflexia_cli("chat", "--model", tiny_model, *GREEDY, "--json", stdin="Hello\n/new\nHello\n")
    first, second = _replies(json_run.stdout)
    assert second["prompt_tokens"] == first["prompt_tokens"]  # the old turns are gone


def test_load_switches_the_model_and_keeps_the_conversation(tiny_model: Path, tiny_f16_model: Path) -> None:
    stdin = f"Hello\n/load {tiny_f16_model}\nAnd then?\n"
    run = reflexia_cli("chat", "--model", tiny_model, *GREEDY, "--json", stdin=stdin)
    assert run.returncode == 0, run.describe()
    before, after = _replies(run.stdout)
    assert (before["quantization"], after["quantization"]) == ("q4_k_m", "f16")
    assert after["prompt_tokens"] > before["prompt_tokens"]  # the first exchange is still in the prompt
    assert after["cached_prompt_tokens"] == 0  # a new model evaluates it all
    assert "the conversation goes on" in run.stderr


def test_a_bad_load_is_reported_and_the_session_goes_on(tiny_model: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nope.gguf"
    run = reflexia_cli(
        "chat", "--model", tiny_model, *GREEDY, "--json", stdin=f"Hi\n/load {missing}\nStill?\n"
    )
    assert run.returncode == 0, run.describe()
    first, error, second = _replies(run.stdout)
    assert "nope.gguf" in str(error["error"])
    assert second["quantization"] == first["quantization"] == "q4_k_m"
    assert second["prompt_tokens"] > first["prompt_tokens"]


def test_a_model_named_from_the_library(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REFLEXIA_MODELS_DIR", os.fspath(model_dir))
    run = reflexia_cli("chat", "--model", "tiny-q4_k_m", *GREEDY, "--prompt", "Hi", "--json")
    assert run.returncode == 0, run.describe()
    assert json.loads(run.stdout)["path"] == os.fspath(model_dir / "tiny-q4_k_m.gguf")
    family = reflexia_cli("chat", "--model", "reflexia-tiny", *GREEDY, "--prompt", "Hi", "--json")
    assert json.loads(family.stdout)["quantization"] == "f16"  # the family's largest rung that fits
    unknown = reflexia_cli("chat", "--model", "no-such-model", "--prompt", "Hi")
    assert unknown.returncode == 1 and "no model named 'no-such-model'" in unknown.stderr


def test_the_real_model_still_knows_the_conversation_after_a_model_switch(smollm2_model: Path) -> None:
    stdin = f"My name is Zorblax. Please remember it.\n/load {smollm2_model}\nWhat is my name?\n"
    run = reflexia_cli("chat", "--model", smollm2_model, "--temperature", "0", "--max-tokens", "40", "--json",
                       stdin=stdin)  # fmt: skip
    assert run.returncode == 0, run.describe()
    _, answer = _replies(run.stdout)
    assert answer["model"] == "SmolLM2-135M-Instruct"
    assert "Zorblax" in str(answer["text"])
