"""The settings in force, changed in the app: saved to the user's file, reloaded through every layer."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final, Literal

from PySide6.QtCore import QObject, Signal

from reflexia.core.config.settings import (
    SHIPPED_DEFAULT,
    LoadedSettings,
    Settings,
    SettingSource,
    default_settings,
    load_settings,
    save_user_settings,
    setting_keys,
    setting_sources,
    user_config_path,
)

log = logging.getLogger(__name__)

#: When a changed setting takes effect.
Effect = Literal["now", "next_model_load"]

#: Read when a model is loaded: the loaded model keeps the old values.
NEXT_MODEL_LOAD: Final = frozenset(
    {"model.context_length", "model.threads", "model.gpu_layers", "model.batch_size"}
)

#: Everything else (sampling, memory thresholds, the response cache, folders, the Ollama server...):
#: applied at once.
APPLIES_NOW: Final = frozenset(".".join(key) for key in setting_keys()) - NEXT_MODEL_LOAD


def effect(key: str) -> Effect:
    """When a change of the dotted setting ``key`` takes effect."""
    return "next_model_load" if key in NEXT_MODEL_LOAD else "now"


def takes_effect_on_next_load(key: str) -> bool:
    """Whether the model in use keeps the old value of ``key`` until a model is loaded again."""
    return key in NEXT_MODEL_LOAD


def _leaves(tree: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for name, value in tree.items():
        if isinstance(value, Mapping):
            yield from _leaves(value, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", value


def changed_keys(old: Settings, new: Settings) -> frozenset[str]:
    """The dotted keys whose values differ (``roles`` counts as one key)."""
    before = dict(_leaves(old.model_dump()))
    return frozenset(key for key, value in _leaves(new.model_dump()) if before.get(key) != value)


class SettingsStore(QObject):
    """Holds the settings in force and changes them. Lives on the GUI thread.

    A change is saved to the user's config file and the settings are then loaded again through
    every layer, so ``.env`` and environment variables still win over what was saved.

    Signals:
        changed(Settings, frozenset[str]): the settings in force now, and the dotted keys whose
            values changed (e.g. ``"model.threads"``). Not emitted when nothing changed.
    """

    changed = Signal(object, object)

    def __init__(
        self,
        loaded: LoadedSettings | None = None,
        *,
        shipped_path: Path | None = None,
        user_path: Path | None = None,
        dotenv_path: Path | None = None,
        environ: Mapping[str, str] | None = None,
        parent: QObject | None = None,
    ) -> None:
        """Start from ``loaded`` (what start-up loaded) or load the settings now.

        The paths and ``environ`` default to what :func:`load_settings` uses.
        """
        super().__init__(parent)
        self._shipped_path = shipped_path
        self._user_path = user_path or user_config_path()
        self._dotenv_path = dotenv_path
        self._environ = environ
        self._loaded = loaded if loaded is not None else self._load()
        self._sources = self._read_sources()
        self._defaults = default_settings(shipped_path=shipped_path)

    @property
    def settings(self) -> Settings:
        """The settings in force."""
        return self._loaded.settings

    @property
    def problems(self) -> tuple[str, ...]:
        """What the last load found wrong in the layers above the shipped defaults."""
        return self._loaded.problems

    @property
    def defaults(self) -> Settings:
        """The shipped defaults."""
        return self._defaults

    @property
    def user_path(self) -> Path:
        """The file changes are saved to."""
        return self._user_path

    def source(self, key: str) -> SettingSource:
        """Where the value in force of the dotted ``key`` comes from."""
        return self._sources.get(key, SHIPPED_DEFAULT)

    def update(self, changes: Mapping[str, Any]) -> list[str]:
        """Save ``changes`` (dotted key -> value), load the settings again and emit ``changed``.

        Returns:
            What the user should know: a saved value that ``.env`` or the environment overrides,
            and problems the new load found that the previous one did not.

        Raises:
            SettingsChangeError: a key names no setting or a value is invalid; nothing is saved.
            ConfigError: the shipped defaults are broken.
            OSError: the user's file could not be written; it is unchanged.
        """
        if not changes:
            return []
        save_user_settings(
            {tuple(key.split(".")): value for key, value in changes.items()},
            user_path=self._user_path,
            shipped_path=self._shipped_path,
        )
        old = self._loaded
        self._loaded = self._load()
        self._sources = self._read_sources()
        problems = [problem for problem in self._loaded.problems if problem not in old.problems]
        problems += [
            f"{key} was saved, but {source.origin} overrides it until that is removed."
            for key in changes
            if (source := self.source(key)).external
        ]
        keys = changed_keys(old.settings, self.settings)
        if keys:
            log.info("settings changed: %s", ", ".join(sorted(keys)))
            self.changed.emit(self.settings, keys)
        return problems

    def _load(self) -> LoadedSettings:
        return load_settings(
            shipped_path=self._shipped_path,
            user_path=self._user_path,
            dotenv_path=self._dotenv_path,
            environ=self._environ,
        )

    def _read_sources(self) -> dict[str, SettingSource]:
        sources = setting_sources(
            shipped_path=self._shipped_path,
            user_path=self._user_path,
            dotenv_path=self._dotenv_path,
            environ=self._environ,
        )
        return {".".join(key): source for key, source in sources.items()}
