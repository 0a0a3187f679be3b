"""Typed, user-presentable errors.

Every error that can reach a user carries a one-line message that says what is
wrong and, where possible, what to do. Workers catch these at the thread
boundary and emit them as values; the CLI prints ``str(error)`` and exits 1.
"""

from __future__ import annotations


class ReflexiaError(Exception):
    """Base of all errors that are meant to be shown to a user."""


class ConfigError(ReflexiaError):
    """A configuration value or file is invalid."""


class ModelFileError(ReflexiaError):
    """A model file is missing, unreadable, not a GGUF, truncated or corrupt."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class UnsupportedModelError(ModelFileError):
    """A valid GGUF whose architecture or tensor types this build cannot run."""


class ModelLoadError(ReflexiaError):
    """llama.cpp refused to load a file that passed our own checks."""


class GenerationError(ReflexiaError):
    """A generation could not be started or failed midway."""


class BusyError(ReflexiaError):
    """A request arrived while the engine was busy with another one."""


class QuantizationError(ReflexiaError):
    """A model could not be quantized."""


class LoadCancelledError(ModelLoadError):
    """A load was given up: a newer load superseded it, or the app is quitting."""


class ServerUnavailableError(ReflexiaError):
    """A model server (Ollama, an OpenAI-compatible server) does not answer."""


class HistoryStoreError(ReflexiaError):
    """The conversation history cannot be opened, read or written, or has no such conversation."""
