"""Remembers the model last loaded, so the next launch can load it again (off the GUI thread)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Slot

from reflexia.core.engine.values import ModelInfo

_KEY = "session/last_model"


class LastModel(QObject):
    """Keeps the path of the last model loaded in the app's state file. Lives on the GUI thread."""

    def __init__(self, state: QSettings) -> None:
        super().__init__()
        self._state = state

    @Slot(int, object)
    def remember(self, _request_id: int, info: ModelInfo) -> None:
        """Note a model that finished loading (only files: a server's model is not ours to load)."""
        if info.path is not None:
            self._state.setValue(_KEY, str(info.path))
            self._state.sync()

    def path(self) -> Path | None:
        """The model to load at launch: the last one, if its file is still there."""
        value = self._state.value(_KEY)
        if not isinstance(value, str) or not value:
            return None
        path = Path(value)
        return path if path.is_file() else None
