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


def build_problem(system_info: str | None = None) -> str | None:
    """One line when this llama.cpp build is known to crash on this CPU, else None.

    llama.cpp's AMX kernels (Intel Xeon since Sapphire Rapids) crash in their first matrix product
    (``ggml_backend_amx_mul_mat``; llama.cpp issue 20824, no fix upstream). A native build on such
    a CPU compiles them in; ``make install`` builds llama-cpp-python without them.
    """
    if system_info is None:
        import llama_cpp  # deferred: the check needs the native library's own report

        system_info = bytes(llama_cpp.llama_print_system_info()).decode(errors="replace")
    if "AMX_INT8 = 1" in system_info:
        return (
            "llama.cpp was built with AMX kernels, which crash on this processor at the first reply: "
            "rebuild it without them with `make install` (or CFLAGS/CXXFLAGS=\"-mno-amx-tile -mno-amx-int8 "
            "-mno-amx-bf16\" pip install --no-cache-dir --force-reinstall llama-cpp-python)"
        )
    return None
