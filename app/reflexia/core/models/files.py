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
