"""`reflexia models`, `governor`, `inspect --json` fit fields and `chat --auto-quant`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.e2e.test_cli import assert_one_line_error, assert_success, reflexia_cli


@pytest.fixture
def library(model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A models folder: tiny at f16 and q4_k_m, small at q4_k_m, and a corrupt file."""
    folder = tmp_path / "library"
    folder.mkdir()
    for name in ("tiny-f16.gguf", "tiny-q4_k_m.gguf", "small-q4_k_m.gguf"):
        shutil.copy(model_dir / name, folder / name)
    (folder / "broken.gguf").write_bytes((model_dir / "tiny-f16.gguf").read_bytes()[:3000])
    monkeypatch.setenv("REFLEXIA_MODELS_DIR", str(folder))
    monkeypatch.setenv("HOME", str(tmp_path))  # no real Ollama / LM Studio store
    return folder


def test_models_json_lists_families_rungs_estimates_and_fit(library: Path) -> None:
    run = reflexia_cli("models", "--json")
    assert_success(run)
    report = json.loads(run.stdout)
    families = {family["key"]: family for family in report["families"]}
    assert set(families) == {"reflexia-tiny", "reflexia-small"}
    tiny = families["reflexia-tiny"]
    assert [r["quantization"] for r in tiny["rungs"]] == ["q4_k_m", "f16"]
    for rung in tiny["rungs"] + families["reflexia-small"]["rungs"]:
        assert rung["estimate_mb"] > 0
        assert rung["fit"] in ("fits", "shorter_context", "too_large")
        assert rung["file_size"] == Path(rung["path"]).stat().st_size
    assert tiny["rungs"][0]["estimate_mb"] < tiny["rungs"][1]["estimate_mb"]
    assert {r["quantization"] for r in tiny["can_create"]} == {"q4_0", "q5_k_m", "q8_0"}
    assert families["reflexia-small"]["can_create"] == []  # no higher-precision source to make rungs from
    (unreadable,) = report["unreadable"]
    assert unreadable["path"].endswith("broken.gguf") and "truncated" in unreadable["reason"]


def test_models_text(library: Path) -> None:
    run = reflexia_cli("models")
    assert_success(run)
    assert "tiny" in run.stdout and "not made yet" in run.stdout
    assert "unreadable:" in run.stdout and "broken.gguf" in run.stdout


def test_a_model_too_large_for_the_budget_is_flagged(library: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIN_FREE_MEMORY_MB", str(1024 * 1024))  # keep 1 TB free: nothing fits
    report = json.loads(reflexia_cli("models", "--json").stdout)
    verdicts = {r["fit"] for family in report["families"] for r in family["rungs"]}
    assert verdicts == {"too_large"}


def test_inspect_json_gains_estimate_and_fit(library: Path) -> None:
    run = reflexia_cli("inspect", library / "tiny-q4_k_m.gguf", "--json")
    assert_success(run)
    summary = json.loads(run.stdout)
    assert summary["quantization"] == "q4_k_m"
    assert summary["estimate_mb"] > 0 and summary["fit"] == "fits"


def test_governor_prints_json_lines(library: Path) -> None:
    run = reflexia_cli("governor", "--family", library / "tiny-q4_k_m.gguf", "--watch", "1.5", "--json")
    assert_success(run)
    events = [json.loads(line) for line in run.stdout.splitlines()]
    assert events, run.describe()
    first = events[0]
    assert first["event"] == "decision" and first["kind"] == "initial"
    for key in ("level", "from", "to", "reason", "available_mb", "used_percent"):
        assert key in first
    assert first["to"] == "f16"  # plenty of memory here: the best rung


def test_governor_unknown_family_is_one_line(library: Path) -> None:
    assert_one_line_error(
        reflexia_cli("governor", "--family", "no-such-model", "--watch", "1"), "no-such-model"
    )


def test_chat_auto_quant_lets_the_governor_pick(library: Path) -> None:
    run = reflexia_cli(
        "chat",
        "--model",
        library / "tiny-q4_k_m.gguf",
        "--prompt",
        "hi",
        "--max-tokens",
        "4",
        "--json",
        "--auto-quant",
    )
    assert_success(run)
    reply = json.loads(run.stdout)
    assert reply["quantization"] == "f16"
    assert reply["auto_quant"]["to"] == "f16" and reply["auto_quant"]["event"] == "decision"


def test_chat_refuses_a_model_that_cannot_fit_unless_told_to_load_anyway(
    library: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIN_FREE_MEMORY_MB", str(1024 * 1024))  # keep 1 TB free: nothing fits
    model = library / "tiny-f16.gguf"
    line = assert_one_line_error(
        reflexia_cli("chat", "--model", model, "--prompt", "hi"), "too large", "--load-anyway"
    )
    assert "tiny-f16.gguf" in line
    run = reflexia_cli(
        "chat", "--model", model, "--prompt", "hi", "--max-tokens", "3", "--json", "--load-anyway"
    )
    assert_success(run)
    assert json.loads(run.stdout)["completion_tokens"] == 3
