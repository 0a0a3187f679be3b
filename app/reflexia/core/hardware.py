"""Facts about this machine that loading decisions depend on."""

from __future__ import annotations

import os
import platform

import psutil


def physical_cores() -> int:
    """Physical CPU cores (llama.cpp decodes fastest with one thread per core)."""
    return psutil.cpu_count(logical=False) or os.cpu_count() or 1


def is_apple_silicon() -> bool:
    """True on an arm64 Mac, where Metal and unified memory are available."""
    return platform.system() == "Darwin" and platform.machine() == "arm64"
