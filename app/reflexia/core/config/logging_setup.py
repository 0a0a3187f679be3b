"""Logging to a rotating file, with llama.cpp's own log routed into it.

llama.cpp prints straight to stderr unless a callback is installed; the
callback below sends its lines to the ``reflexia.llama`` logger instead, so
the console stays clean unless ``--verbose`` mirrors the log there.
"""

from __future__ import annotations

import ctypes
import logging
import logging.handlers
import sys
from pathlib import Path
from typing import Any

from reflexia.core.config import paths

LOG_FILE_NAME = "reflexia.log"
_FORMAT = "%(asctime)s %(levelname)-7s %(threadName)s %(name)s: %(message)s"

# ggml_log_level: NONE=0, DEBUG=1, INFO=2, WARN=3, ERROR=4, CONT=5
_GGML_LEVELS = {1: logging.DEBUG, 2: logging.INFO, 3: logging.WARNING, 4: logging.ERROR}
_llama_log = logging.getLogger("reflexia.llama")
_llama_callback: Any = None  # keeps the ctypes callback alive for the process lifetime
_llama_partial: list[str] = []
_llama_last_level = logging.DEBUG


def configure_logging(level: str = "INFO", *, verbose: bool = False, directory: Path | None = None) -> Path:
    """Send all ``reflexia`` logs to a rotating file (and the console when verbose).

    Returns:
        The path of the log file.
    """
    directory = directory or paths.log_dir()
    directory.mkdir(parents=True, exist_ok=True)
    log_path = directory / LOG_FILE_NAME
    root = logging.getLogger("reflexia")
    root.setLevel(logging.DEBUG if verbose else getattr(logging, level))
    for handler in list(root.handlers):
        if getattr(handler, "_reflexia", False):
            root.removeHandler(handler)
            handler.close()
    file_handler = logging.handlers.RotatingFileHandler(
        log_path, maxBytes=2_000_000, backupCount=3, encoding="utf-8"
    )
    file_handler.setFormatter(logging.Formatter(_FORMAT))
    handlers: list[logging.Handler] = [file_handler]
    if verbose:
        console = logging.StreamHandler(sys.stderr)
        console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        handlers.append(console)
    for handler in handlers:
        handler._reflexia = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.propagate = False
    return log_path


def _on_llama_log(level: int, text: bytes | None, _user_data: Any) -> None:
    global _llama_last_level
    # llama.cpp emits lines in pieces; CONT (5) continues the previous level.
    if level != 5:
        _llama_last_level = _GGML_LEVELS.get(level, logging.DEBUG)
    _llama_partial.append((text or b"").decode("utf-8", errors="replace"))
    joined = "".join(_llama_partial)
    if "\n" not in joined:
        return
    *lines, rest = joined.split("\n")
    _llama_partial[:] = [rest] if rest else []
    for line in lines:
        if line.strip():
            _llama_log.log(_llama_last_level, "%s", line.rstrip())


def route_llama_log() -> None:
    """Install the llama.cpp log callback (idempotent)."""
    global _llama_callback
    if _llama_callback is not None:
        return
    import llama_cpp

    _llama_callback = llama_cpp.llama_log_callback(_on_llama_log)
    llama_cpp.llama_log_set(_llama_callback, ctypes.c_void_p(0))
