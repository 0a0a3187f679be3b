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
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeGuard

from dotenv import dotenv_values
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from reflexia.core.atomic_file import atomic_output
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
    make_rungs_automatically: bool = Field(
        title="Make rungs automatically",
        description=(
            "Let the memory governor write new, lower-precision model files with the quantizer on its own; "
            "off: it chooses among the files you have and offers to make one that would help"
        ),
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


class AgentSettings(_Section):
    """The menubar agent: its quick prompt and whether Reflexia starts at login."""

    quick_prompt_shortcut: str = Field(
        max_length=40,
        title="Quick prompt shortcut",
        description=(
            "Opens the quick prompt from any app, e.g. Ctrl+Shift+Space (Ctrl is Cmd on macOS). Global on "
            "macOS; on Linux and Windows it works while Reflexia is in front: bind it in your desktop's "
            "keyboard settings to run `reflexia quick` for a global one"
        ),
    )
    start_at_login: bool = Field(title="Start at login", description="Reflexia waits in the menubar")

    @field_validator("quick_prompt_shortcut")
    @classmethod
    def _shortcut(cls, value: str) -> str:
        parts = [p.strip() for p in value.split("+")] if value.strip() else []
        modifiers = {"Ctrl", "Shift", "Alt", "Meta"}
        if parts and (not set(parts[:-1]) <= modifiers or not parts[-1] or parts[-1] in modifiers):
            raise ValueError("must be modifiers (Ctrl, Shift, Alt, Meta) and one key, e.g. Ctrl+Shift+Space")
        if parts and not set(parts[:-1]) & {"Ctrl", "Alt", "Meta"}:
            raise ValueError("needs Ctrl, Alt or Meta, or it would swallow ordinary typing")
        return "+".join(parts)


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
    agent: AgentSettings
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


# ---------------------------------------------------------------------------------------------
# Settings changed in the app: saved to the user's file, which sits under .env and the environment.

#: A setting's place in the tree, e.g. ``("model", "threads")``.
SettingKey = tuple[str, ...]

#: The layer a value in force comes from, lowest first.
Layer = Literal["defaults", "user", "dotenv", "environment"]


class SettingsChangeError(ConfigError):
    """A change the app was asked to save is invalid.

    Attributes:
        key: the dotted setting, e.g. ``"model.context_length"``.
        value: the value that was refused.
        reason: what is allowed instead, in pydantic's words.
    """

    def __init__(self, key: str, value: object, reason: str) -> None:
        super().__init__(f"Setting {key} = {value!r} is invalid: {reason}")
        self.key = key
        self.value = value
        self.reason = reason


@dataclass(frozen=True)
class SettingSource:
    """Where the value in force of one setting comes from."""

    layer: Layer
    origin: str  # e.g. "environment variable REFLEXIA_THREADS", or the user file's path

    @property
    def external(self) -> bool:
        """Set outside the app (.env or the environment): a value saved in the app is overridden."""
        return self.layer in ("dotenv", "environment")

    def explanation(self) -> str:
        """One line for the settings dialog."""
        if self.external:
            return f"Set by {self.origin} — changing it here has no effect until that is removed."
        return f"Set in {self.origin}." if self.layer == "user" else "The shipped default."


#: The source of every value no layer above the shipped defaults sets.
SHIPPED_DEFAULT = SettingSource("defaults", "the shipped defaults")


def user_config_path() -> Path:
    """The user's config file: the layer the app writes."""
    return paths.config_dir() / "config.json"


def _is_section(annotation: object) -> TypeGuard[type[BaseModel]]:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def setting_field(key: SettingKey) -> FieldInfo | None:
    """The pydantic field a leaf key names (title, description, bounds), or None if there is none."""
    if not key or key == ("schema_version",) or key[0] not in Settings.model_fields:
        return None
    field = Settings.model_fields[key[0]]
    section = field.annotation
    if len(key) == 1:
        return None if _is_section(section) else field
    if len(key) != 2 or not _is_section(section):
        return None
    return section.model_fields.get(key[1])


def setting_keys() -> tuple[SettingKey, ...]:
    """Every leaf key a user may set, in the models' order (``roles`` is one leaf)."""
    keys: list[SettingKey] = []
    for name, field in Settings.model_fields.items():
        section = field.annotation
        if name == "schema_version":
            continue
        if _is_section(section):
            keys += [(name, inner) for inner in section.model_fields]
        else:
            keys.append((name,))
    return tuple(keys)


def _read_shipped(shipped_path: Path | None) -> dict[str, Any]:
    path = shipped_path or paths.shipped_config_path()
    try:
        tree: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        Settings.model_validate(tree)
    except (OSError, json.JSONDecodeError, ValidationError) as exc:
        raise ConfigError(f"The shipped defaults {path} are broken: {exc}") from exc
    return tree


def default_settings(*, shipped_path: Path | None = None) -> Settings:
    """The shipped defaults alone: what "Restore defaults" puts back.

    Raises:
        ConfigError: the shipped ``config.json`` is broken.
    """
    return Settings.model_validate(_read_shipped(shipped_path))


def _read_user_tree(path: Path) -> tuple[dict[str, Any], bool]:
    """The user's file as a tree, and whether an unreadable file is there (the loader ignores it)."""
    if not path.exists():
        return {}, False
    try:
        tree = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}, True
    return (tree, False) if isinstance(tree, dict) else ({}, True)


def _is_valid(tree: Mapping[str, Any]) -> bool:
    try:
        Settings.model_validate(tree)
    except ValidationError:
        return False
    return True


def _reason(error: ErrorDetails) -> str:
    if error["type"] == "extra_forbidden":
        return "there is no such setting"
    return str(error["msg"]).removeprefix("Value error, ")


def _change_error(exc: ValidationError, changes: Mapping[SettingKey, Any]) -> SettingsChangeError:
    # A field's own error names that field; a rule over a section (critical > high) or over the
    # whole tree names the change that falls under it.
    for error in exc.errors():
        loc = tuple(str(part) for part in error["loc"])
        for key, value in changes.items():
            if key[: len(loc)] == loc or loc[: len(key)] == key:
                return SettingsChangeError(".".join(key), value, _reason(error))
    key, value = next(iter(changes.items()))
    return SettingsChangeError(".".join(key), value, _reason(exc.errors()[0]))


def _get(tree: Mapping[str, Any], key: SettingKey) -> Any:
    node: Any = tree
    for part in key:
        node = node[part]
    return node


def _replay(tree: dict[str, Any], leaves: Iterable[tuple[SettingKey, Any]]) -> dict[str, Any]:
    """What the loader makes of ``leaves`` over ``tree``: applied one by one, invalid ones skipped."""
    for key, value in leaves:
        candidate = _set(tree, key, value)
        if _is_valid(candidate):
            tree = candidate
    return tree


def _loadable_order(shipped: dict[str, Any], user_tree: Mapping[str, Any]) -> dict[str, Any]:
    """``user_tree`` with its leaves in an order in which the loader accepts every valid one.

    The loader checks each leaf against the ones before it, so raising both pressure thresholds
    above the old critical one only loads if critical comes first.
    """
    tree, pending, ordered = shipped, list(_leaves(user_tree)), []
    progress = True
    while progress:
        progress = False
        for index, (key, value) in enumerate(pending):
            if _is_valid(candidate := _set(tree, key, value)):
                tree = candidate
                ordered.append(pending.pop(index))
                progress = True
                break
    result: dict[str, Any] = {}
    for key, value in ordered + pending:  # values the loader skips stay, last
        result = _set(result, key, value)
    return result


def save_user_settings(
    changes: Mapping[SettingKey, Any], *, user_path: Path | None = None, shipped_path: Path | None = None
) -> Path:
    """Merge leaf changes into the user's config file and write it atomically.

    Everything else in the file stays as it is (a stored value the loader ignores as invalid
    stays ignored, not deleted). The changes are validated together, over the shipped defaults
    and the user's valid values, so cross-field rules (critical above high pressure) are
    checked; .env and the environment are not part of it, as they are not part of the file.
    Values are stored as the models normalize them (e.g. a host without its trailing slash).
    An unreadable file is kept beside the new one as ``config.json.unreadable``.

    Args:
        changes: leaf keys, e.g. ``("model", "threads")``, and their new values.
        user_path: the file to write; the user's config file by default.
        shipped_path: the shipped defaults; ``config.json`` of the bundle by default.

    Returns:
        The path written.

    Raises:
        SettingsChangeError: a key names no setting or a value is invalid; nothing is written.
        ConfigError: the shipped defaults are broken.
        OSError: the file could not be written; the old one is intact.
    """
    user_path = user_path or user_config_path()
    for key, value in changes.items():
        if setting_field(key) is None:
            raise SettingsChangeError(".".join(key), value, "there is no such setting")
    shipped = _read_shipped(shipped_path)
    user_tree, unreadable = _read_user_tree(user_path)
    user_tree.pop("schema_version", None)
    tree = _replay(shipped, _leaves(user_tree))
    for key, value in changes.items():
        tree = _set(tree, key, value)
    try:
        normalized = Settings.model_validate(tree).model_dump(mode="json")
    except ValidationError as exc:
        raise _change_error(exc, changes) from exc

    for key in changes:
        user_tree = _set(user_tree, key, _get(normalized, key))
    user_tree = _loadable_order(shipped, user_tree)
    loaded = _replay(shipped, _leaves(user_tree))
    for key, value in changes.items():
        if _get(loaded, key) != _get(normalized, key):  # never seen; a guard against a silent drop
            raise SettingsChangeError(".".join(key), value, "it cannot be stored so that it loads back")
    text = json.dumps({"schema_version": SCHEMA_VERSION, **user_tree}, indent=2, ensure_ascii=False)
    if unreadable:
        os.replace(user_path, user_path.with_name(f"{user_path.name}.unreadable"))
        log.warning("config: %s was unreadable; kept as %s.unreadable", user_path, user_path.name)
    with atomic_output(user_path) as partial:
        partial.write_text(text + "\n", encoding="utf-8")
    log.info("config: saved %s to %s", ", ".join(".".join(key) for key in changes), user_path)
    return user_path


def setting_sources(
    *,
    shipped_path: Path | None = None,
    user_path: Path | None = None,
    dotenv_path: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[SettingKey, SettingSource]:
    """The layer each value in force comes from; keys not listed keep the shipped default.

    Replays the loader's layers with the same defaults and the same rule (an override that
    would make the settings invalid is skipped), so it agrees with :func:`load_settings`.

    Raises:
        ConfigError: the shipped defaults are broken.
    """
    tree = _read_shipped(shipped_path)
    user_path = user_path or user_config_path()
    dotenv_path = dotenv_path or Path.cwd() / ".env"
    environ = os.environ if environ is None else environ
    user_source = SettingSource("user", str(user_path))
    layers = [(override.key, override.value, user_source) for override in _user_overrides(user_path, [])]
    dotenv = dotenv_values(dotenv_path) if dotenv_path.is_file() else {}
    for name, key in ENV_VARIABLES.items():
        if (value := dotenv.get(name)) is not None:
            layers.append((key, value, SettingSource("dotenv", f"{name} in {dotenv_path}")))
    for name, key in ENV_VARIABLES.items():
        if (value := environ.get(name)) is not None:
            layers.append((key, value, SettingSource("environment", f"environment variable {name}")))
    sources: dict[SettingKey, SettingSource] = {}
    for key, value, source in layers:
        candidate = _set(tree, key, value)
        if _is_valid(candidate):
            tree = candidate
            sources[key] = source
    return sources


def setting_source(
    key: SettingKey,
    *,
    shipped_path: Path | None = None,
    user_path: Path | None = None,
    dotenv_path: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> SettingSource:
    """Where the value in force of ``key`` comes from (see :func:`setting_sources`)."""
    sources = setting_sources(
        shipped_path=shipped_path, user_path=user_path, dotenv_path=dotenv_path, environ=environ
    )
    return sources.get(key, SHIPPED_DEFAULT)
