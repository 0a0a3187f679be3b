"""`reflexia quantize` and `reflexia doctor` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reflexia.core.models.gguf_file import read_gguf
from tests.e2e.test_cli import assert_one_line_error, assert_success, reflexia_cli


@pytest.mark.parametrize("rung", ["q4_0", "q4_k_m", "q5_k_m", "q8_0"])
def test_quantize_writes_a_verified_file(rung: str, tiny_f16_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / f"tiny-{rung}.gguf"
    out.parent.mkdir()
    run = reflexia_cli("quantize", tiny_f16_model, "--to", rung, "--out", out, "--json")
    assert_success(run)
    summary = json.loads(run.stdout)
    assert summary["output"] == str(out) and summary["quantization"] == rung
    assert summary["file_size"] == out.stat().st_size < tiny_f16_model.stat().st_size
    assert summary["seconds"] > 0
    assert read_gguf(out).quantization == rung
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # no temporary file left behind


def test_quantize_default_output_sits_next_to_the_source(tiny_f16_model: Path, tmp_path: Path) -> None:
    source = tmp_path / "demo-f16.gguf"
    source.write_bytes(tiny_f16_model.read_bytes())
    run = reflexia_cli("quantize", source, "--to", "q8_0")
    assert_success(run)
    assert (tmp_path / "demo-q8_0.gguf").is_file()
    assert str(tmp_path / "demo-q8_0.gguf") in run.stdout


def test_quantize_errors_are_one_line(tiny_model: Path, tmp_path: Path) -> None:
    assert_one_line_error(reflexia_cli("quantize", tiny_model, "--to", "q3_x"), "q3_x")
    assert_one_line_error(reflexia_cli("quantize", tmp_path / "nope.gguf", "--to", "q8_0"), "nope.gguf")
    assert_one_line_error(reflexia_cli("quantize", tiny_model, "--to", "q8_0"), str(tiny_model))
    assert_one_line_error(reflexia_cli("quantize", tiny_model), "--to")


def test_doctor_reports_every_check(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REFLEXIA_MODELS_DIR", str(model_dir))
    monkeypatch.setenv("OLLAMA_HOST", "http://127.0.0.1:9")  # nothing listens there
    run = reflexia_cli("doctor", "--json")
    assert run.returncode == 0, run.describe()
    report = json.loads(run.stdout)
    checks = {check["name"]: check for check in report["checks"]}
    expected = (
        "config",
        "llama.cpp",
        "display libraries",
        "embedder",
        "vector store",
        "models folder",
        "ollama",
        "memory",
        "disk",
    )
    assert set(checks) == set(expected)
    assert report["ok"] is True
    assert checks["embedder"]["status"] == "ok"
    assert checks["vector store"]["status"] == "ok"
    assert checks["models folder"]["status"] == "ok" and "3 GGUF files" in checks["models folder"]["detail"]
    assert checks["ollama"]["status"] == "warning" and "ollama serve" in checks["ollama"]["fix"]
    assert "CPU only" in checks["llama.cpp"]["detail"]  # this machine has no GPU


def test_doctor_text_shows_fixes_and_config_problems(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_MEMORY_PERCENT", "500")
    monkeypatch.setenv("OLLAMA_HOST", "http://127.0.0.1:9")
    run = reflexia_cli("doctor")
    assert run.returncode == 0, run.describe()
    lines = run.stdout.splitlines()
    assert any(line.startswith("warning  config") and "MAX_MEMORY_PERCENT" in line for line in lines)
    assert any(line.startswith("warning  models folder") for line in lines)
    assert any("fix: " in line for line in lines)
