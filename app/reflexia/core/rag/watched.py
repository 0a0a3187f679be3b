"""The folders the user asked to watch, and the collection each one feeds.

Kept as JSON beside the index (``watched-folders.json`` in the vector store folder), written
atomically. A file that cannot be read counts as no watched folders and is logged; the
documents themselves are untouched.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reflexia.core.atomic_file import atomic_output

log = logging.getLogger(__name__)

WATCHED_FILE_NAME = "watched-folders.json"


@dataclass(frozen=True)
class WatchedFolder:
    """A folder whose new, changed and deleted files are picked up without the user asking."""

    path: Path
    collection: str


def load_watched(index_folder: Path) -> list[WatchedFolder]:
    """The watched folders recorded in ``index_folder``."""
    path = index_folder / WATCHED_FILE_NAME
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
        return [WatchedFolder(Path(e["path"]), str(e["collection"])) for e in entries]
    except FileNotFoundError:
        return []
    except (OSError, ValueError, KeyError, TypeError) as error:
        log.warning("%s: cannot read the watched folders (%s); none are watched", path, error)
        return []


def save_watched(index_folder: Path, watched: Sequence[WatchedFolder]) -> None:
    """Record the watched folders (atomically).

    Raises:
        OSError: the file cannot be written; the previous one is unchanged.
    """
    index_folder.mkdir(parents=True, exist_ok=True)
    entries = [{"path": str(w.path), "collection": w.collection} for w in watched]
    with atomic_output(index_folder / WATCHED_FILE_NAME) as partial:
        partial.write_text(json.dumps(entries, indent=2), encoding="utf-8")
