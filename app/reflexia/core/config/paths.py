"""Where Reflexia keeps its files.

``REFLEXIA_HOME`` puts config, data and logs under one folder (tests and
portable installs); otherwise the platform's conventional folders are used.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs

APP_NAME = "Reflexia"


def _home_override() -> Path | None:
    home = os.environ.get("REFLEXIA_HOME")
    return Path(home).expanduser() if home else None


def config_dir() -> Path:
    """Folder of the user's config file and window state."""
    home = _home_override()
    return home / "config" if home else Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def data_dir() -> Path:
    """Folder of models, the vector store and chat history."""
    home = _home_override()
    return home / "data" if home else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def log_dir() -> Path:
    """Folder of the rotating log file."""
    home = _home_override()
    return home / "logs" if home else Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def bundle_root() -> Path:
    """Folder holding ``config.json`` and ``resources/``: the repo, or the frozen bundle."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        return Path(frozen_root)
    # app/reflexia/core/config/paths.py -> repository root
    return Path(__file__).resolve().parents[4]


def shipped_config_path() -> Path:
    """The shipped defaults, ``config.json``."""
    return bundle_root() / "config.json"


def resources_dir() -> Path:
    """Icons, style sheets and other shipped resources."""
    return bundle_root() / "resources"
