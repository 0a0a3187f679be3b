"""Typed settings and the layered loader.

Layers, lowest first: the shipped ``config.json`` < the user's config file <
``.env`` < environment variables. A bad value in any layer above the shipped
defaults is dropped with one clear message (key, value, what is allowed) and
the value underneath stays in force, so the app always starts.
"""

from __future__ import annotations

import copy
import json
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from dotenv import dotenv_values
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from reflexia.core.config import paths
from reflexia.core.errors import ConfigError
from reflexia.core.models.ladder import Rung

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelSettings(_Section):
    """Which model to load and how."""

    default_model: str = Field(
        title="Default model", description="GGUF file or name loaded at start; empty: none"
    )
    quantization_level: Rung = Field(title="Quantization", description="Preferred rung of the ladder")
    context_length: int = Field(ge=256, le=1_048_576, title="Context length", description="Tokens of context")
    threads: int = Field(ge=0, le=512, title="Threads", description="CPU threads; 0 means physical cores")
    gpu_layers: int = Field(
        ge=-1, le=10_000, title="GPU layers", description="Layers offloaded; -1 means all"
    )
    batch_size: int = Field(ge=1, le=8192, title="Batch size", description="Prompt tokens per decode call")


class SamplingSettings(_Section):
    """How replies are sampled."""

    temperature: float = Field(ge=0.0, le=5.0, title="Temperature", description="0 means greedy")
    top_k: int = Field(ge=0, le=1000, title="Top-k", description="0 disables")
    top_p: float = Field(ge=0.0, le=1.0, title="Top-p")
    min_p: float = Field(ge=0.0, le=1.0, title="Min-p")
    repeat_penalty: float = Field(ge=0.0, le=5.0, title="Repeat penalty", description="1.0 disables")
    max_tokens: int = Field(ge=1, le=1_048_576, title="Max reply tokens")
    seed: int = Field(ge=-1, le=2**32 - 1, title="Seed", description="-1 picks a random seed")


class MemorySettings(_Section):
    """The memory budget and the pressure thresholds."""

    max_memory_percent: int = Field(ge=10, le=100, title="Memory budget (%)")
    min_free_memory_mb: int = Field(ge=0, le=1_048_576, title="Keep free (MB)")
    high_pressure_percent: int = Field(ge=10, le=100, title="High pressure at (% used)")
    critical_pressure_percent: int = Field(ge=10, le=100, title="Critical pressure at (% used)")
    governor_enabled: bool = Field(
        title="Memory governor", description="Switch quantization rungs as memory pressure changes"
    )
    dwell_seconds: float = Field(ge=0, le=600, title="Pressure must last (s)", description="before it counts")
    recovery_seconds: float = Field(ge=0, le=3600, title="Step up after (s)", description="of low pressure")

    @model_validator(mode="after")
    def _ordered(self) -> MemorySettings:
        if self.critical_pressure_percent <= self.high_pressure_percent:
            raise ValueError("critical_pressure_percent must be above high_pressure_percent")
        return self


class OllamaSettings(_Section):
    """Where the Ollama server is."""

    host: str = Field(title="Ollama server", description="URL of the Ollama server")

    @field_validator("host")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be a URL starting with http:// or https://")
        return value.rstrip("/")


class RagSettings(_Section):
    """Document search: embedder, chunking, passages per question."""

    embeddings_model: str = Field(title="Embeddings model")
    chunk_size: int = Field(ge=100, le=20_000, title="Chunk size (characters)")
    chunk_overlap: int = Field(ge=0, le=10_000, title="Chunk overlap (characters)")
    top_k: int = Field(ge=1, le=50, title="Passages per question")


class PathSettings(_Section):
    """Folders for models and the vector store."""

    models_dir: str = Field(title="Models folder", description="Empty: the app's data folder")
    vector_db_path: str = Field(title="Vector store folder", description="Empty: the app's data folder")


class Role(_Section):
    """An expert role: who the assistant is, how it samples, what it may use."""

    name: str = Field(min_length=1, max_length=60, title="Name")
    system_prompt: str = Field(min_length=1, max_length=20_000, title="System prompt")
    temperature: float | None = Field(
        default=None, ge=0.0, le=5.0, title="Temperature", description="Empty: the sampling default"
    )
    top_p: float | None = Field(default=None, ge=0.0, le=1.0, title="Top-p", description="Empty: the default")
    max_tokens: int | None = Field(
        default=None, ge=1, le=1_048_576, title="Max reply tokens", description="Empty: the default"
    )
    use_documents: bool = Field(
        default=False, title="Use documents", description="Answer from your documents"
    )
    min_rung: Rung | None = Field(
        default=None,
        title="Lowest quantization",
        description="The memory governor never goes below this rung with this role",
    )

    @field_validator("name")
    @classmethod
    def _trimmed(cls, value: str) -> str:
        if value != value.strip():
            raise ValueError("must not start or end with spaces")
        return value


class ChatSettings(_Section):
    """Conversations and the response cache."""

    response_cache_entries: int = Field(
        ge=0,
        le=10_000,
        title="Response cache",
        description="Answers kept for repeated questions; 0 turns it off",
    )
    load_last_model: bool = Field(title="Load the last model at launch")


class LoggingSettings(_Section):
    """What the log file records."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"]
    log_content: bool = Field(description="Log prompts and document text (only for debugging)")


class Settings(_Section):
    """All settings; every field comes from ``config.json`` or a layer above it."""

    schema_version: int
    model: ModelSettings
    sampling: SamplingSettings
    memory: MemorySettings
    ollama: OllamaSettings
    rag: RagSettings
    paths: PathSettings
    chat: ChatSettings
    roles: tuple[Role, ...] = Field(min_length=1)
    default_role: str
    logging: LoggingSettings

    @model_validator(mode="after")
    def _role_exists(self) -> Settings:
        if self.default_role not in {role.name for role in self.roles}:
            raise ValueError(f"default_role {self.default_role!r} is not one of the roles")
        return self

    def models_dir(self) -> Path:
        """The folder scanned for GGUF files."""
        configured = self.paths.models_dir
        return Path(configured).expanduser() if configured else paths.data_dir() / "models"

    def vector_db_dir(self) -> Path:
        """The folder of the on-disk vector store."""
        configured = self.paths.vector_db_path
        return Path(configured).expanduser() if configured else paths.data_dir() / "vectordb"


# Environment (and .env) variables and the setting each one sets.
ENV_VARIABLES: Mapping[str, tuple[str, ...]] = {
    "OLLAMA_HOST": ("ollama", "host"),
    "DEFAULT_MODEL": ("model", "default_model"),
    "QUANTIZATION_LEVEL": ("model", "quantization_level"),
    "VECTOR_DB_PATH": ("paths", "vector_db_path"),
    "EMBEDDINGS_MODEL": ("rag", "embeddings_model"),
    "MAX_MEMORY_PERCENT": ("memory", "max_memory_percent"),
    "MIN_FREE_MEMORY_MB": ("memory", "min_free_memory_mb"),
    "REFLEXIA_MODELS_DIR": ("paths", "models_dir"),
    "REFLEXIA_CONTEXT_LENGTH": ("model", "context_length"),
    "REFLEXIA_THREADS": ("model", "threads"),
    "REFLEXIA_GPU_LAYERS": ("model", "gpu_layers"),
    "REFLEXIA_LOG_LEVEL": ("logging", "level"),
}


@dataclass(frozen=True)
class LoadedSettings:
    """Settings in force plus every problem found while loading them."""

    settings: Settings
    problems: tuple[str, ...]


@dataclass(frozen=True)
class _Override:
    key: tuple[str, ...]
    value: Any
    source: str  # e.g. "environment variable QUANTIZATION_LEVEL"


def _set(tree: dict[str, Any], key: tuple[str, ...], value: Any) -> dict[str, Any]:
    result = copy.deepcopy(tree)
    node = result
    for part in key[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[key[-1]] = value
    return result


def _leaves(tree: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    for name, value in tree.items():
        if isinstance(value, Mapping):
            yield from _leaves(value, (*prefix, name))
        else:
            yield (*prefix, name), value


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    if first["type"] == "extra_forbidden":
        return "there is no such setting"
    message = str(first["msg"])
    return message.removeprefix("Value error, ")


def _user_overrides(path: Path, problems: list[str]) -> list[_Override]:
    if not path.exists():
        return []
    try:
        tree = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        problems.append(f"User config {path} is unreadable ({exc}); it was ignored.")
        return []
    if not isinstance(tree, dict):
        problems.append(f"User config {path} must hold a JSON object; it was ignored.")
        return []
    return [_Override(key, value, f"{path}") for key, value in _leaves(tree) if key != ("schema_version",)]


def _variable_overrides(values: Mapping[str, str | None], source: str) -> list[_Override]:
    return [
        _Override(key, values[name], f"{source} {name}")
        for name, key in ENV_VARIABLES.items()
        if values.get(name) is not None
    ]


def load_settings(
    *,
    shipped_path: Path | None = None,
    user_path: Path | None = None,
    dotenv_path: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> LoadedSettings:
    """Load settings from every layer, keeping the app startable on bad input.

    Raises:
        ConfigError: only when the shipped ``config.json`` itself is broken.
    """
    shipped_path = shipped_path or paths.shipped_config_path()
    user_path = user_path or paths.config_dir() / "config.json"
    dotenv_path = dotenv_path or Path.cwd() / ".env"
    environ = os.environ if environ is None else environ
    try:
        tree: dict[str, Any] = json.loads(shipped_path.read_text(encoding="utf-8"))
        Settings.model_validate(tree)
    except (OSError, json.JSONDecodeError, ValidationError) as exc:
        raise ConfigError(f"The shipped defaults {shipped_path} are broken: {exc}") from exc

    problems: list[str] = []
    overrides = _user_overrides(user_path, problems)
    if dotenv_path.is_file():
        overrides += _variable_overrides(dotenv_values(dotenv_path), f"{dotenv_path}:")
    overrides += _variable_overrides(environ, "environment variable")

    for override in overrides:
        candidate = _set(tree, override.key, override.value)
        try:
            Settings.model_validate(candidate)
        except ValidationError as exc:
            dotted = ".".join(override.key)
            problems.append(
                f"Setting {dotted} = {override.value!r} from {override.source} is invalid: "
                f"{_describe(exc)}. Using the previous value instead."
            )
            continue
        tree = candidate
    for problem in problems:
        log.warning("config: %s", problem)
    return LoadedSettings(Settings.model_validate(tree), tuple(problems))
