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


class UnexpectedError(ReflexiaError):
    """Something failed that our code did not foresee: said in one line, details in the log."""


def _storage_problem(exc: BaseException) -> str | None:
    """What an SQLite or file-system failure means for the user, or None when it is neither."""
    import errno
    import sqlite3

    text = str(exc).lower()
    if isinstance(exc, sqlite3.Error) or "sqlite" in type(exc).__module__:
        if "full" in text:
            return "the disk is full: free some space and try again"
        if "locked" in text or "busy" in text:
            return "another program holds the database locked: close it, or wait, and try again"
        if "malformed" in text or "not a database" in text or "corrupt" in text:
            return "its database file is damaged"
        if "readonly" in text or "read-only" in text:
            return "its database file cannot be written (read-only)"
        return f"its database failed ({exc})"
    if isinstance(exc, OSError):
        if exc.errno == errno.ENOSPC:
            return "the disk is full: free some space and try again"
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return f"it cannot be written: {exc.strerror}"
    return None


def as_user_error(exc: BaseException, doing: str) -> ReflexiaError:
    """``exc`` as one line for the user, whatever was raised (a worker boundary's last word).

    Our own errors pass as they are; SQLite and disk failures say what they mean ("the disk is
    full"); anything else is an :class:`UnexpectedError` naming what was being done. What was
    not our own error is logged here, with its traceback, for the log file.
    """
    if isinstance(exc, ReflexiaError):
        return exc
    import logging

    logging.getLogger(__name__).warning("%s failed", doing, exc_info=exc)
    storage = _storage_problem(exc)
    if storage is not None:
        return UnexpectedError(f"{doing[:1].upper()}{doing[1:]} failed: {storage}")
    return UnexpectedError(f"Unexpected error while {doing}: {type(exc).__name__}: {exc}")
