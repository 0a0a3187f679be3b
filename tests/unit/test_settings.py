"""The layered settings loader: shipped < user file < .env < environment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reflexia.core.config import paths
from reflexia.core.config.settings import ENV_VARIABLES, load_settings
from reflexia.core.errors import ConfigError


def _user_config(tree: object) -> Path:
    path = paths.config_dir() / "config.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(tree), encoding="utf-8")
    return path


def test_shipped_defaults_load_cleanly() -> None:
    loaded = load_settings(environ={})
    shipped = json.loads(paths.shipped_config_path().read_text())
    assert loaded.problems == ()
    assert loaded.settings.model.quantization_level == shipped["model"]["quantization_level"]
    assert loaded.settings.memory.max_memory_percent == shipped["memory"]["max_memory_percent"]
    assert loaded.settings.default_role in {role.name for role in loaded.settings.roles}


def test_every_documented_variable_sets_its_key(tmp_path: Path) -> None:
    values = {
        "OLLAMA_HOST": "http://127.0.0.1:9999",
        "DEFAULT_MODEL": "some.gguf",
        "QUANTIZATION_LEVEL": "q8_0",
        "VECTOR_DB_PATH": str(tmp_path / "db"),
        "EMBEDDINGS_MODEL": "other-embedder",
        "MAX_MEMORY_PERCENT": "70",
        "MIN_FREE_MEMORY_MB": "2048",
        "REFLEXIA_MODELS_DIR": str(tmp_path / "models"),
    }
    assert set(values) <= set(ENV_VARIABLES)
    s = load_settings(environ=values)
    assert s.problems == ()
    st = s.settings
    assert st.ollama.host == "http://127.0.0.1:9999"
    assert st.model.default_model == "some.gguf"
    assert st.model.quantization_level == "q8_0"
    assert st.vector_db_dir() == tmp_path / "db"
    assert st.rag.embeddings_model == "other-embedder"
    assert st.memory.max_memory_percent == 70
    assert st.memory.min_free_memory_mb == 2048
    assert st.models_dir() == tmp_path / "models"


def test_layers_apply_in_order(tmp_path: Path) -> None:
    _user_config({"model": {"quantization_level": "q5_k_m", "context_length": 2048}})
    dotenv = tmp_path / ".env"
    dotenv.write_text("QUANTIZATION_LEVEL=q8_0\nMAX_MEMORY_PERCENT=60\n")
    s = load_settings(dotenv_path=dotenv, environ={"MAX_MEMORY_PERCENT": "75"}).settings
    assert s.model.context_length == 2048  # user file
    assert s.model.quantization_level == "q8_0"  # .env beats the user file
    assert s.memory.max_memory_percent == 75  # the environment beats .env


def test_bad_value_names_key_value_and_what_is_allowed_and_keeps_the_default() -> None:
    loaded = load_settings(environ={"QUANTIZATION_LEVEL": "q9_z"})
    assert loaded.settings.model.quantization_level == "q4_k_m"
    (problem,) = loaded.problems
    assert "QUANTIZATION_LEVEL" in problem
    assert "model.quantization_level" in problem
    assert "'q9_z'" in problem
    for allowed in ("q4_0", "q4_k_m", "q5_k_m", "q8_0", "f16"):
        assert allowed in problem


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("MAX_MEMORY_PERCENT", "150", "less than or equal to 100"),
        ("MIN_FREE_MEMORY_MB", "lots", "valid integer"),
        ("OLLAMA_HOST", "localhost:11434", "http://"),
    ],
)
def test_out_of_range_values_are_explained(name: str, value: str, expected: str) -> None:
    loaded = load_settings(environ={name: value})
    (problem,) = loaded.problems
    assert name in problem and repr(value) in problem and expected in problem


def test_one_bad_key_does_not_discard_good_ones() -> None:
    _user_config({"model": {"context_length": 10, "threads": 3}, "sampling": {"temperature": 0.2}})
    loaded = load_settings(environ={})
    assert loaded.settings.model.threads == 3
    assert loaded.settings.sampling.temperature == 0.2
    assert len(loaded.problems) == 1 and "model.context_length" in loaded.problems[0]


def test_unknown_user_setting_is_reported() -> None:
    _user_config({"model": {"colour": "blue"}})
    (problem,) = load_settings(environ={}).problems
    assert "model.colour" in problem and "no such setting" in problem


def test_unreadable_user_file_is_ignored_with_a_message() -> None:
    path = paths.config_dir() / "config.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{ not json")
    loaded = load_settings(environ={})
    (problem,) = loaded.problems
    assert str(path) in problem and "ignored" in problem


def test_inconsistent_thresholds_are_rejected() -> None:
    _user_config({"memory": {"critical_pressure_percent": 50}})
    (problem,) = load_settings(environ={}).problems
    assert "critical_pressure_percent must be above high_pressure_percent" in problem


def test_broken_shipped_defaults_are_a_config_error(tmp_path: Path) -> None:
    shipped = tmp_path / "config.json"
    shipped.write_text('{"schema_version": 1}')
    with pytest.raises(ConfigError, match="shipped defaults"):
        load_settings(shipped_path=shipped, environ={})
