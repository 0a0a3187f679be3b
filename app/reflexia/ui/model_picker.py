"""The model menu: GGUF files of the models folder, plus "Open GGUF…"."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QWidget

from reflexia.core.model_files import human_size

_OPEN = "open"


class ModelPicker(QComboBox):
    """Choosing an entry loads it; "Open GGUF…" asks for a file elsewhere.

    Signals:
        model_chosen(Path): the user picked a model file.
        open_requested(): the user picked "Open GGUF…".
    """

    model_chosen = Signal(object)
    open_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("modelPicker")
        self.setMinimumWidth(320)
        self.setToolTip("Model: files in your models folder, or open any GGUF file")
        self._current: Path | None = None
        self.activated.connect(self._on_activated)
        self.set_models([])

    def set_models(self, files: list[Path]) -> None:
        """Replace the list, keeping the current model selected."""
        self.blockSignals(True)
        self.clear()
        self.addItem("Choose a model…", None)
        for path in files:
            try:
                size = human_size(path.stat().st_size)
            except OSError:
                size = "unreadable"
            self.addItem(f"{path.stem}  ·  {size}", str(path))
        self.insertSeparator(self.count())
        self.addItem("Open GGUF…", _OPEN)
        self.blockSignals(False)
        self.show_current(self._current)

    def show_current(self, path: Path | None) -> None:
        """Select ``path`` (the loaded model) without emitting anything."""
        self._current = path
        # Item data are strings: QVariant compares Python objects by identity, not equality.
        index = self.findData(str(path)) if path is not None else 0
        if index < 0 and path is not None:
            self.insertItem(self.count() - 2, f"{path.stem}  ·  opened", str(path))
            index = self.findData(str(path))
        self.blockSignals(True)
        self.setCurrentIndex(max(index, 0))
        self.blockSignals(False)

    def _on_activated(self, index: int) -> None:
        data = self.itemData(index)
        if data == _OPEN:
            self.show_current(self._current)
            self.open_requested.emit()
        elif isinstance(data, str) and Path(data) != self._current:
            self.model_chosen.emit(Path(data))
