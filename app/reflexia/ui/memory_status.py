"""Status-bar piece: memory pressure, and the governor's auto/pin switch."""

from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMenu, QToolButton, QWidget

from reflexia.core.memory.monitor import MemorySample
from reflexia.core.models.ladder import UNQUANTIZED
from reflexia.services.governor_service import GovernorService

_LEVEL_TEXT = {"normal": "Memory OK", "high": "Memory pressure high", "critical": "Memory pressure critical"}


class MemoryStatus(QWidget):
    """Shows pressure; lets the user pin a rung (auto off), hand control back, or make a rung.

    Signals:
        quantize_requested(Path, str, str): make this rung from this source file, for this family.
    """

    quantize_requested = Signal(object, str, str)

    def __init__(self, governor: GovernorService, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._governor = governor
        self.pressure_label = QLabel(_LEVEL_TEXT["normal"])
        self.pressure_label.setObjectName("statusField")
        self.mode_button = QToolButton()
        self.mode_button.setObjectName("modeButton")
        self.mode_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.mode_button.setToolTip("Quantization: the memory governor chooses (Auto), or pin a rung")
        self._menu = QMenu(self.mode_button)
        self._menu.aboutToShow.connect(self._fill_menu)
        self.mode_button.setMenu(self._menu)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(self.pressure_label)
        layout.addWidget(self.mode_button)
        governor.sampled.connect(self._on_sample)
        self._refresh_mode()

    @Slot(object)
    def _on_sample(self, sample: MemorySample) -> None:
        level = self._governor.level
        free_gb = sample.available_gb
        self.pressure_label.setText(
            f"{_LEVEL_TEXT[level]} · {sample.used_percent:.0f}% used, {free_gb:.1f} GB free"
        )
        self.pressure_label.setProperty("level", level)

    def _refresh_mode(self) -> None:
        pinned = self._governor.pinned_rung
        self.mode_button.setText(f"Pinned: {pinned}" if pinned else "Auto")

    def _fill_menu(self) -> None:
        self._menu.clear()
        group = QActionGroup(self._menu)
        auto = QAction("Auto: the governor picks the rung", self._menu, checkable=True)
        auto.setChecked(self._governor.pinned_rung is None)
        auto.triggered.connect(lambda: self.pin(None))
        group.addAction(auto)
        self._menu.addAction(auto)
        family = self._governor.family
        if family is None:
            note = self._menu.addAction("Load a model to pin one of its rungs")
            note.setEnabled(False)
            return
        self._menu.addSeparator()
        for rung in family.rungs():
            action = QAction(f"Pin {rung}", self._menu, checkable=True)
            action.setChecked(self._governor.pinned_rung == rung)
            action.triggered.connect(lambda _checked=False, r=rung: self.pin(r))
            group.addAction(action)
            self._menu.addAction(action)
        source = family.best_source()
        missing = family.missing_ladder_rungs()
        if source is not None and source.quantization in UNQUANTIZED and missing:
            self._menu.addSeparator()
            for rung in missing:
                make = self._menu.addAction(f"Make {rung} from {source.path.name}")
                make.triggered.connect(
                    lambda _checked=False, r=rung, p=source.path, n=family.display_name: (
                        self.quantize_requested.emit(p, r, n)
                    )
                )

    def pin(self, rung: str | None) -> None:
        """Pin ``rung`` or return to auto."""
        self._governor.pin(rung)
        self._refresh_mode()
