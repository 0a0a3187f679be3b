"""Finding GGUF files on disk."""

from __future__ import annotations

from pathlib import Path


def find_model_files(folder: Path) -> list[Path]:
    """GGUF files in ``folder`` and its sub-folders, sorted by name; none if it is missing."""
    if not folder.is_dir():
        return []
    try:
        found = [p for p in folder.rglob("*.gguf") if p.is_file() and not p.name.startswith(".")]
    except OSError:
        return []
    return sorted(found, key=lambda p: (p.name.lower(), str(p)))


def human_size(n_bytes: int) -> str:
    """Sizes as people read them: 812 KB, 3.4 MB, 4.1 GB."""
    value = float(n_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit in ("B", "KB") else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"
