"""What the Help menu says about this installation: versions, and what a problem report needs.

Pure text, gathered on this machine: nothing here touches the network. The Qt versions are
passed in, because the core never imports Qt.
"""

from __future__ import annotations

import platform
import sys
from pathlib import Path

from reflexia import __version__
from reflexia.core.config import paths
from reflexia.core.config.logging_setup import LOG_FILE_NAME
from reflexia.core.engine.llama_cpp.version import installed_version


def log_file() -> Path:
    """The log file a problem report should include."""
    return paths.log_dir() / LOG_FILE_NAME


def llama_cpp_library_version() -> str | None:
    """The version the llama.cpp library reports of itself, or None when it cannot say."""
    try:
        import llama_cpp  # deferred: loading the native library is the slow part of a start

        reported = getattr(llama_cpp, "llama_version", None)
        raw = reported() if callable(reported) else None
    except Exception:  # an About box must open whatever the native library does
        return None
    if isinstance(raw, bytes):
        raw = raw.decode(errors="replace")
    return str(raw) if raw else None


def versions(*, qt: str, pyside: str) -> list[tuple[str, str]]:
    """The components a bug report names, as ``(component, version)`` rows."""
    return [
        ("Reflexia", __version__),
        ("Qt", qt),
        ("PySide6", pyside),
        ("llama-cpp-python", installed_version() or "not installed"),
        ("llama.cpp", llama_cpp_library_version() or "unknown"),
        ("Python", f"{platform.python_version()} ({sys.executable})"),
        ("System", f"{platform.system()} {platform.release()} {platform.machine()}"),
    ]


def versions_text(rows: list[tuple[str, str]]) -> str:
    """The version rows as aligned lines, fit to paste into a report."""
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name + ':':<{width + 1}} {value}" for name, value in rows)


def problem_report_text(rows: list[tuple[str, str]]) -> str:
    """What to put in a problem report, with this machine's log path and versions filled in."""
    return (
        "To report a problem, please include:\n"
        "\n"
        "1. What you did, what happened, and what you expected instead.\n"
        f"2. The log file: {log_file()}\n"
        "   (look through it first: it names your files and models).\n"
        "3. The output of `reflexia doctor`, run in a terminal.\n"
        "4. These versions:\n"
        "\n"
        f"{versions_text(rows)}\n"
        "\n"
        "Reflexia sends nothing by itself: nothing leaves this computer unless you send it."
    )
