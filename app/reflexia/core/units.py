"""The one definition of size units: binary, as llama.cpp, psutil and the memory settings count.

Sizes are shown as "MB" and "GB" (what people read) but always mean 1024² and 1024³ bytes,
so an estimate, a budget and a setting in MB can be compared without conversions.
"""

from __future__ import annotations

from typing import Final

KB: Final = 1024
MB: Final = 1024 * KB
GB: Final = 1024 * MB


def human_size(n_bytes: int) -> str:
    """Sizes as people read them: 812 KB, 3.4 MB, 4.1 GB."""
    value = float(n_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit in ("B", "KB") else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"  # pragma: no cover - the loop returns at GB


def mb_rounded_up(n_bytes: int) -> int:
    """Whole MB, rounded up (an estimate is never shown smaller than it is)."""
    return -(-n_bytes // MB)
