"""`reflexia demo` runs on a fresh install and says what each step showed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from reflexia.core.config import paths
from tests.e2e.test_cli import assert_success, reflexia_cli


def test_the_headless_demo_tours_every_feature_with_the_generated_model() -> None:
    run = reflexia_cli("demo", timeout=180)
    assert_success(run)
    out = run.stdout
    for title in ("model family", "each expert role", "memory governor", "response cache"):
        assert title in out
    assert out.count("→ shows:") == 4
    assert "gibberish by design" in out  # no real chat model in a fresh library
    assert "f16 → q8_0" in out and "q8_0 → q4_0" in out and "q4_0 → q4_k_m" in out
    assert "from the cache: True, same text: True" in out


def test_the_demo_uses_a_real_chat_model_when_the_library_has_one(smollm2_model: Path) -> None:
    models = paths.data_dir() / "models"
    models.mkdir(parents=True)
    shutil.copy(smollm2_model, models / smollm2_model.name)
    run = reflexia_cli("demo", timeout=180)
    assert_success(run)
    assert "model: SmolLM2-135M-Instruct.Q4_1.gguf" in run.stdout
    assert "def reverse" in run.stdout  # the Code Assistant writes code


@pytest.mark.timeout(900)
def test_the_gui_tour_runs_in_the_window_and_ends_by_itself() -> None:
    # Every role's reply runs to its own max_tokens on the random-weight demo model (2,048 for the
    # Code Assistant): about a minute here, past 180 s with both cores busy. The limit catches a hang.
    run = reflexia_cli("demo", "--gui", timeout=600)
    assert run.returncode == 0, run.describe()
    assert "the window chats with each role" in run.stdout
