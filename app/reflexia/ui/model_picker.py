"""The model menu: the library's models with size and fit verdict, plus "Open GGUF…"."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QWidget

from reflexia.ui.eliding_combo import ElidingComboBox

_OPEN = "open"
#: Between the parts of an item: name, rung, size, and last the verdict ("fits", "too large").
SEPARATOR = "  ·  "


class ModelPicker(ElidingComboBox):
    """Choosing an entry loads it; "Open GGUF…" asks for a file elsewhere.

    Narrowed, it shortens the model's name in the middle, then leaves out the size and the rung,
    and keeps the verdict whole.

    Signals:
        model_chosen(Path): the user picked a model file.
        open_requested(): the user picked "Open GGUF…".
    """

    model_chosen = Signal(object)
    open_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, min_chars=12)
        self.setObjectName("modelPicker")
        self.setMaximumWidth(480)  # a long name is elided rather than spread across the header
        self.setToolTip("Model: files in your models folder, or open any GGUF file")
        self._current: Path | None = None
        self.activated.connect(self._on_activated)
        self.set_entries([])

    def set_entries(self, entries: list[tuple[str, Path, str]]) -> None:
        """Replace the list with (label, path, tooltip) entries, keeping the current model selected."""
        self.blockSignals(True)
        self.clear()
        self.addItem("Choose a model…", None)
        for label, path, tooltip in entries:
            self.addItem(label, str(path))
            self.setItemData(self.count() - 1, tooltip, Qt.ItemDataRole.ToolTipRole)
        self.insertSeparator(self.count())
        self.addItem("Open GGUF…", _OPEN)
        self.blockSignals(False)
        self.show_current(self._current)
        self.updateGeometry()  # the header gives the longest item room when it has some

    def show_current(self, path: Path | None) -> None:
        """Select ``path`` (the loaded model) without emitting anything."""
        self._current = path
        # Item data are strings: QVariant compares Python objects by identity, not equality.
        index = self.findData(str(path)) if path is not None else 0
        if index < 0 and path is not None:
            self.insertItem(self.count() - 2, f"{path.stem}{SEPARATOR}opened", str(path))
            index = self.findData(str(path))
            self.updateGeometry()
        self.blockSignals(True)
        self.setCurrentIndex(max(index, 0))
        self.blockSignals(False)

    def elide(self, text: str, width: int) -> str:
        """Keep the verdict whole and the rung if there is room; shorten the name in the middle."""
        metrics = self.fontMetrics()
        parts = text.split(SEPARATOR)
        if len(parts) < 2 or metrics.horizontalAdvance(text) <= width:
            return super().elide(text, width)
        name, details, verdict = parts[0], parts[1:-1], parts[-1]
        least = metrics.horizontalAdvance("…") * 6  # less of a name than this says nothing
        while True:
            tail = SEPARATOR.join(["", *details, verdict])
            room = width - metrics.horizontalAdvance(tail)
            if room >= least:
                return metrics.elidedText(name, Qt.TextElideMode.ElideMiddle, room) + tail
            if not details:
                return super().elide(verdict, width)
            details = details[:-1]  # the size goes first, then the rung

    def _on_activated(self, index: int) -> None:
        data = self.itemData(index)
        if data == _OPEN:
            self.show_current(self._current)
            self.open_requested.emit()
        elif isinstance(data, str) and Path(data) != self._current:
            self.model_chosen.emit(Path(data))
