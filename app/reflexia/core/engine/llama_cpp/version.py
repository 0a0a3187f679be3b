"""The llama-cpp-python version the engine is written against.

The engine calls llama.cpp's raw C API through llama-cpp-python's ctypes bindings,
whose signatures change between releases without notice; another version may crash
rather than fail cleanly. pyproject.toml pins this exact version.
"""

from __future__ import annotations

from importlib import metadata
from typing import Final

EXPECTED_VERSION: Final = "0.3.36"


def installed_version() -> str | None:
    """The installed llama-cpp-python version, or None if it is not installed."""
    try:
        return metadata.version("llama_cpp_python")
    except metadata.PackageNotFoundError:
        return None


def version_problem(installed: str | None = None) -> str | None:
    """One line saying what is wrong with the installed version, or None when it is the pinned one."""
    found = installed if installed is not None else installed_version()
    if found is None:
        return "llama-cpp-python is not installed: run `make install` (or pip install -e .)"
    if found != EXPECTED_VERSION:
        return (
            f"llama-cpp-python {found} is installed, but Reflexia is written against {EXPECTED_VERSION}: "
            f'models may fail to load or crash. Fix: pip install "llama-cpp-python=={EXPECTED_VERSION}"'
        )
    return None
