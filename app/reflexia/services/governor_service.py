"""The memory governor's Qt adapter: sampling off the GUI thread, swaps between replies.

The policy is ``reflexia.core.memory.governor``; this module only schedules it. A
sampler thread reads memory about once a second; the governor (on the GUI
thread) turns samples into decisions; a decision to switch rungs waits until
the reply in progress has finished, then asks the inference service to load
the new rung. The conversation lives in the chat session, so it continues on
the new rung.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal, Slot

from reflexia.core.config.settings import Settings
from reflexia.core.engine.backend import LoadParams, ModelInfo
from reflexia.core.memory.estimate import MemoryBudget
from reflexia.core.memory.governor import (
    Decision,
    GovernorConfig,
    LevelChange,
    MemoryGovernor,
    PressureLevel,
    RungOption,
)
from reflexia.core.memory.monitor import MemorySample, sample_memory
from reflexia.core.memory.rung_report import family_report, rung_options
from reflexia.core.models.catalog import ModelFamily
from reflexia.services.inference import InferenceService
from reflexia.services.model_library import ModelLibraryService
from reflexia.services.quantization import QuantizationService

log = logging.getLogger(__name__)


class MemorySampler(QThread):
    """Reads memory every ``interval_s`` on its own thread.

    Signals:
        sampled(MemorySample): emitted from the sampler thread (queued to receivers).
    """

    sampled = Signal(object)

    def __init__(self, interval_s: float = 1.0) -> None:
        super().__init__()
        self.setObjectName("memory-sampler")
        self._interval_s = interval_s
        self._stop = threading.Event()

    def run(self) -> None:
        """Sample until stopped; runs on the sampler thread."""
        while not self._stop.is_set():
            self.sampled.emit(sample_memory())
            self._stop.wait(self._interval_s)

    def stop(self) -> None:
        """End the thread and wait for it."""
        self._stop.set()
        self.wait()


class GovernorService(QObject):
    """Runs the memory governor for the loaded model's family. Lives on the GUI thread.

    Signals:
        pressure_changed(str, MemorySample): the pressure level in force changed.
        switched(Decision): a swap to another rung was started.
        sampled(MemorySample): the latest sample (for the status bar).
    """

    pressure_changed = Signal(str, object)
    switched = Signal(object)
    sampled = Signal(object)

    def __init__(
        self,
        inference: InferenceService,
        library: ModelLibraryService,
        quantization: QuantizationService,
        settings: Settings,
        *,
        config: GovernorConfig | None = None,
        interval_s: float = 1.0,
        complexity: Callable[[], float] | None = None,
    ) -> None:
        super().__init__()
        self._inference = inference
        self._library = library
        self._quantization = quantization
        self._latest_options: list[RungOption] = []
        self._made_for: Decision | None = None  # a decision waiting for the quantizer's rung
        self._settings = settings
        self._config = config or GovernorConfig.from_settings(settings.memory)
        self._complexity = complexity or (lambda: 0.0)
        self._family: ModelFamily | None = None
        self._governor: MemoryGovernor | None = None
        self._pending: Decision | None = None
        self._pinned: str | None = None
        self.level: PressureLevel = "normal"
        self.last_sample: MemorySample | None = None
        inference.model_loaded.connect(self._on_model_loaded)
        inference.generation_finished.connect(self._on_reply_ended)
        inference.generation_failed.connect(self._on_reply_ended)
        quantization.finished.connect(self._on_rung_made)
        self._sampler = MemorySampler(interval_s)
        self._sampler.sampled.connect(self._on_sample)
        self._sampler.start()

    @property
    def family(self) -> ModelFamily | None:
        """The family of the loaded model, when the library knows it."""
        return self._family

    @property
    def pinned_rung(self) -> str | None:
        """The rung the user pinned; None while the governor chooses."""
        return self._pinned

    def pin(self, rung: str | None) -> None:
        """Keep ``rung`` (auto off), or give the choice back to the governor with None."""
        self._pinned = rung
        if self._governor is not None:
            self._governor.pin(rung)

    def shutdown(self) -> None:
        """Stop sampling (call once, at exit)."""
        self._sampler.stop()

    def _options(self) -> list[RungOption]:
        if self._family is None:
            return []
        budget = MemoryBudget.from_system(self._settings.memory)
        self._latest_options = rung_options(
            family_report(
                self._family,
                self._settings.model.context_length,
                budget,
                gpu_layers=self._settings.model.gpu_layers,
            )
        )
        return self._latest_options

    @Slot(object)
    def _on_model_loaded(self, info: ModelInfo) -> None:
        snapshot = self._library.snapshot
        family = snapshot.catalog.find(info.path) if snapshot else None
        if family is None or (self._family is not None and family.key != self._family.key):
            self._governor = None
        self._family = family
        if family is None:
            return
        if self._governor is None:
            self._governor = MemoryGovernor(self._config, self._options, current_rung=info.quantization)
            if self._pinned in {o.rung for o in self._governor.options()}:
                self._governor.pin(self._pinned)
        else:
            self._governor.set_current(info.quantization)

    def _current_model_bytes(self) -> int:
        # From the options of the previous sample: estimating the family twice a second is waste.
        governor = self._governor
        if governor is None:
            return 0
        current = governor.state.current_rung
        return next((o.estimate_bytes for o in self._latest_options if o.rung == current), 0)

    @Slot(object)
    def _on_sample(self, sample: MemorySample) -> None:
        self.last_sample = sample
        self.sampled.emit(sample)
        if self._governor is None:
            return
        events = self._governor.observe(
            sample, complexity=self._complexity(), current_model_bytes=self._current_model_bytes()
        )
        for event in events:
            log.info("governor: %s", event.to_json_dict())
            if isinstance(event, LevelChange):
                self.level = event.to_level
                self.pressure_changed.emit(event.to_level, sample)
            elif event.is_switch:
                self._pending = event
        self._apply_pending()

    @Slot(int, object)
    def _on_reply_ended(self, _request_id: int, _outcome: object) -> None:
        self._apply_pending()

    def _apply_pending(self) -> None:
        # Swaps wait for the reply in progress: a reply is never cut.
        decision, family = self._pending, self._family
        if decision is None or family is None or self._inference.is_generating or self._inference.is_loading:
            return
        self._pending = None
        target = family.file_for(decision.to_rung) if decision.to_rung else None
        source = family.best_source()
        if target is None and decision.needs_quantization and source is not None and decision.to_rung:
            job = self._quantization.quantize(source.path, decision.to_rung)
            if job is not None:
                self._made_for = decision
                return
        if target is None:
            log.warning("governor: no file for %s and none can be made", decision.to_rung)
            if self._governor is not None and decision.from_rung is not None:
                self._governor.set_current(decision.from_rung)
            return
        self.switched.emit(decision)
        self._inference.load_model(Path(target.path), LoadParams.from_settings(self._settings))

    @Slot(object)
    def _on_rung_made(self, path: Path) -> None:
        decision, self._made_for = self._made_for, None
        if decision is None:
            return  # the user made a rung by hand: nothing to switch to
        self.switched.emit(decision)
        self._library.rescan()  # the family learns of the new file when the scan returns
        self._inference.load_model(path, LoadParams.from_settings(self._settings))
