"""Saving settings changed in the app, and where each value in force comes from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reflexia.core.config.settings import (
    SCHEMA_VERSION,
    SHIPPED_DEFAULT,
    SettingsChangeError,
    load_settings,
    save_user_settings,
    setting_field,
    setting_keys,
    setting_source,
    setting_sources,
    user_config_path,
)
from reflexia.core.errors import ConfigError


def _write_user(tree: object) -> Path:
    path = user_config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(tree), encoding="utf-8")
    return path


def _read_user() -> dict[str, Any]:
    tree: dict[str, Any] = json.loads(user_config_path().read_text(encoding="utf-8"))
    return tree


def test_a_first_save_creates_the_file_with_the_schema_version() -> None:
    path = save_user_settings({("model", "context_length"): 2048})
    assert path == user_config_path()
    assert list(_read_user()) == ["schema_version", "model"]
    assert _read_user() == {"schema_version": SCHEMA_VERSION, "model": {"context_length": 2048}}
    assert load_settings(environ={}).settings.model.context_length == 2048


def test_merge_keeps_everything_else_in_the_file() -> None:
    _write_user({"schema_version": 1, "model": {"threads": 2}, "sampling": {"seed": 7}, "note": "mine"})
    save_user_settings({("model", "context_length"): 2048, ("memory", "governor_enabled"): False})
    assert _read_user() == {
        "schema_version": SCHEMA_VERSION,
        "model": {"threads": 2, "context_length": 2048},
        "sampling": {"seed": 7},
        "note": "mine",
        "memory": {"governor_enabled": False},
    }
    settings = load_settings(environ={}).settings
    assert (settings.model.threads, settings.model.context_length, settings.sampling.seed) == (2, 2048, 7)
    assert settings.memory.governor_enabled is False


def test_values_are_stored_as_the_models_normalize_them() -> None:
    save_user_settings({("ollama", "host"): "http://127.0.0.1:9999/", ("memory", "dwell_seconds"): "2.5"})
    assert _read_user()["ollama"] == {"host": "http://127.0.0.1:9999"}
    assert _read_user()["memory"] == {"dwell_seconds": 2.5}


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({("model", "context_length"): 100}, "model.context_length", "greater than or equal to 256"),
        ({("ollama", "host"): "localhost:11434"}, "ollama.host", "http:// or https://"),
        ({("model", "quantization_level"): "q9_z"}, "model.quantization_level", "'q4_k_m'"),
        # A rule over the section names the change that broke it.
        ({("memory", "critical_pressure_percent"): 70}, "memory.critical_pressure_percent", "above high"),
        ({("model", "no_such_thing"): 1}, "model.no_such_thing", "no such setting"),
        ({("model",): {"threads": 1}}, "model", "no such setting"),  # sections are not leaves
    ],
)
def test_an_invalid_change_names_the_field_and_writes_nothing(
    changes: dict[tuple[str, ...], object], field: str, reason: str
) -> None:
    path = _write_user({"schema_version": SCHEMA_VERSION, "model": {"threads": 2}})
    before = path.read_bytes()
    with pytest.raises(ConfigError) as caught:
        save_user_settings({("sampling", "seed"): 5, **changes})
    assert isinstance(caught.value, SettingsChangeError)
    assert caught.value.key == field
    assert field in str(caught.value) and reason in str(caught.value)
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["config.json"]


def test_an_invalid_change_creates_no_file() -> None:
    with pytest.raises(SettingsChangeError):
        save_user_settings({("memory", "max_memory_percent"): 150})
    assert not user_config_path().exists()


def test_changes_are_validated_together() -> None:
    # Each alone breaks critical > high (80 < 92 shipped); together they are fine.
    save_user_settings({("memory", "high_pressure_percent"): 93, ("memory", "critical_pressure_percent"): 97})
    memory = load_settings(environ={}).settings.memory
    assert (memory.high_pressure_percent, memory.critical_pressure_percent) == (93, 97)


def test_a_bad_stored_value_stays_in_the_file_and_stays_ignored() -> None:
    _write_user({"model": {"context_length": 5}})
    save_user_settings({("model", "threads"): 3})
    assert _read_user()["model"] == {"context_length": 5, "threads": 3}
    loaded = load_settings(environ={})
    assert loaded.settings.model.threads == 3
    assert any("model.context_length" in problem for problem in loaded.problems)


def test_an_unreadable_file_is_kept_beside_the_new_one() -> None:
    path = user_config_path()
    path.parent.mkdir(parents=True)
    path.write_text("{ not json", encoding="utf-8")
    save_user_settings({("model", "threads"): 3})
    assert _read_user() == {"schema_version": SCHEMA_VERSION, "model": {"threads": 3}}
    assert path.with_name("config.json.unreadable").read_text(encoding="utf-8") == "{ not json"


def test_a_failed_write_leaves_the_old_file_intact(monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write_user({"schema_version": SCHEMA_VERSION, "model": {"threads": 2}})
    before = path.read_bytes()
    real_write_text = Path.write_text

    def disk_full(self: Path, *args: Any, **kwargs: Any) -> int:
        if self.parent == path.parent and self.name.startswith(".config.json."):
            real_write_text(self, "{ half a fi", encoding="utf-8")
            raise OSError(28, "No space left on device")
        return real_write_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", disk_full)
    with pytest.raises(OSError, match="No space left"):
        save_user_settings({("model", "threads"): 8})
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["config.json"]  # no partial file left


def test_a_given_user_path_is_written(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "settings.json"
    assert save_user_settings({("chat", "response_cache_entries"): 0}, user_path=target) == target
    assert json.loads(target.read_text())["chat"] == {"response_cache_entries": 0}
    assert not user_config_path().exists()


def test_every_setting_key_names_a_field() -> None:
    keys = setting_keys()
    assert ("model", "threads") in keys and ("roles",) in keys and ("chat", "load_last_model") in keys
    assert ("schema_version",) not in keys and ("model",) not in keys
    assert all(setting_field(key) is not None for key in keys)


def test_sources_follow_the_layers(tmp_path: Path) -> None:
    _write_user({"model": {"threads": 2, "context_length": 2048}})
    dotenv = tmp_path / ".env"
    dotenv.write_text("REFLEXIA_CONTEXT_LENGTH=8192\nREFLEXIA_GPU_LAYERS=0\n")
    environ = {"REFLEXIA_GPU_LAYERS": "4"}
    sources = setting_sources(dotenv_path=dotenv, environ=environ)
    assert sources[("model", "threads")].layer == "user"
    assert not sources[("model", "threads")].external
    assert sources[("model", "context_length")].layer == "dotenv"
    assert sources[("model", "context_length")].origin == f"REFLEXIA_CONTEXT_LENGTH in {dotenv}"
    assert sources[("model", "gpu_layers")].layer == "environment"
    assert sources[("model", "gpu_layers")].explanation() == (
        "Set by environment variable REFLEXIA_GPU_LAYERS — changing it here has no effect"
        " until that is removed."
    )
    assert setting_source(("model", "batch_size"), environ={}) == SHIPPED_DEFAULT


def test_an_ignored_variable_is_not_the_source() -> None:
    _write_user({"model": {"threads": 2}})
    source = setting_source(("model", "threads"), environ={"REFLEXIA_THREADS": "many"})
    assert source.layer == "user"  # the loader drops the bad variable, so the file's value is in force
    assert load_settings(environ={"REFLEXIA_THREADS": "many"}).settings.model.threads == 2
