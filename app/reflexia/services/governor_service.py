"""The memory governor's Qt adapter: everything per-sample runs on the sampler thread.

The policy is ``reflexia.core.memory.governor``. The sampler thread reads memory
about once a second, estimates the loaded family's rungs, runs the policy and
works out the load that a switch needs; the GUI thread receives finished events
only. It tells the sampler what changed (model loaded, load or quantization
failed, pin, the conversation) through a command list, and turns a decision into
a load request on the shared queue — between replies, never cutting one.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal, Slot

from reflexia.core.config.settings import Role, Settings
from reflexia.core.engine.conversation import ChatMessage
from reflexia.core.engine.values import ModelInfo, ModelRef
from reflexia.core.errors import ReflexiaError
from reflexia.core.memory.complexity import complexity_of
from reflexia.core.memory.estimate import MemoryBudget
from reflexia.core.memory.governor import (
    Decision,
    GovernorConfig,
    GovernorState,
    LevelChange,
    MemoryGovernor,
    RungOption,
    RungWanted,
)
from reflexia.core.memory.monitor import MemorySample, sample_memory
from reflexia.core.memory.pressure import PressureLevel
from reflexia.core.memory.rung_report import RungReport, family_report, rung_options
from reflexia.core.models.catalog import ModelFamily, precision_rank
from reflexia.services.inference import InferenceService
from reflexia.services.model_library import LibrarySnapshot, ModelLibraryService
from reflexia.services.quantization import QuantizationService

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SwitchPlan:
    """A decision with what carrying it out takes: the file to load (or to make) and the context."""

    decision: Decision
    family_key: str
    family_name: str
    target: Path | None  # None: the quantizer must make the rung from ``source`` first
    source: Path | None
    context_length: int
    gpu_layers: int | None = None  # fewer than configured when the GPU's working set holds only some


@dataclass(frozen=True)
class RungSuggestion:
    """A missing rung that would help this family now, and the file the quantizer would make it from."""

    wanted: RungWanted
    family_key: str
    family_name: str
    source: Path


@dataclass(frozen=True)
class _Track:
    family: ModelFamily | None
    rung: str | None
    context_length: int


@dataclass(frozen=True)
class _SetCurrent:
    rung: str | None


@dataclass(frozen=True)
class _Pin:
    rung: str | None


@dataclass(frozen=True)
class _LowestRung:
    rung: str | None


@dataclass(frozen=True)
class _Enabled:
    enabled: bool


@dataclass(frozen=True)
class _Reserved:
    reserved_bytes: int


@dataclass(frozen=True)
class _NewSettings:
    settings: Settings


@dataclass(frozen=True)
class _Conversation:
    messages: tuple[ChatMessage, ...]


_Command = _Track | _SetCurrent | _Pin | _LowestRung | _Enabled | _Reserved | _NewSettings | _Conversation


class MemorySampler(QThread):
    """Samples memory and runs the governor policy on its own thread.

    Signals (emitted from the sampler thread, queued to receivers):
        sampled(MemorySample), level_changed(LevelChange), planned(SwitchPlan),
        suggested(RungSuggestion).
    """

    sampled = Signal(object)
    level_changed = Signal(object)
    planned = Signal(object)
    suggested = Signal(object)

    def __init__(self, settings: Settings, config: GovernorConfig, interval_s: float = 1.0) -> None:
        super().__init__()
        self.setObjectName("memory-sampler")
        self._settings = settings
        self._config = config
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._commands: list[_Command] = []
        # Owned by the sampler thread from here on.
        self._family: ModelFamily | None = None
        self._context_length = settings.model.context_length
        self._governor: MemoryGovernor | None = None
        self._pinned: str | None = None
        self._reports: list[RungReport] = []
        self._messages: tuple[ChatMessage, ...] = ()
        self._lowest: str | None = None  # the role's lowest acceptable rung
        self._enabled = settings.memory.governor_enabled
        self._complexity = 0.0
        self._reserved = 0

    @property
    def state(self) -> GovernorState | None:
        """The policy's state after the last sample (an immutable snapshot; None while off)."""
        governor = self._governor
        return governor.state if governor is not None else None

    def post(self, command: _Command) -> None:
        """Queue a change for the next sample; callable from any thread."""
        with self._lock:
            self._commands.append(command)

    def run(self) -> None:
        """Sample until stopped; runs on the sampler thread."""
        while not self._stop.is_set():
            self._sample_once()
            self._stop.wait(self._interval_s)

    def stop(self) -> None:
        """End the thread and wait for it."""
        self._stop.set()
        self.wait()

    def _apply_commands(self) -> None:
        with self._lock:
            commands, self._commands = self._commands, []
        for command in commands:
            if isinstance(command, _Track):
                same_family = (
                    self._family is not None
                    and command.family is not None
                    and command.family.key == self._family.key
                )
                self._family, self._context_length = command.family, command.context_length
                if command.family is None:
                    self._governor = None
                elif same_family and self._governor is not None:
                    self._governor.set_current(command.rung)
                else:  # another family: nothing the old governor decided applies
                    self._governor = MemoryGovernor(self._config, self._options, current_rung=command.rung)
                    if self._pinned in {o.rung for o in self._governor.options()}:
                        self._governor.pin(self._pinned)
            elif isinstance(command, _SetCurrent):
                if self._governor is not None:
                    self._governor.set_current(command.rung)
            elif isinstance(command, _Pin):
                self._pinned = command.rung
                if self._governor is not None and (
                    command.rung is None or command.rung in {o.rung for o in self._governor.options()}
                ):
                    self._governor.pin(command.rung)
            elif isinstance(command, _LowestRung):
                self._lowest = command.rung
            elif isinstance(command, _Enabled):
                self._enabled = command.enabled
            elif isinstance(command, _Reserved):
                self._reserved = command.reserved_bytes
                self._config = replace(self._config, reserved_bytes=self._reserved)
                if self._governor is not None:
                    self._governor.reconfigure(self._config)
            elif isinstance(command, _NewSettings):
                self._settings = command.settings
                config = GovernorConfig.from_settings(command.settings.memory)
                self._config = replace(config, reserved_bytes=self._reserved)
                self._enabled = command.settings.memory.governor_enabled
                if self._governor is not None:
                    self._governor.reconfigure(self._config)
            else:
                self._messages = command.messages
                text = "\n".join(m.content for m in command.messages)
                # ~4 characters a token is close enough for a share of the context window
                self._complexity = complexity_of(text, len(text) // 4, self._context_length, False)

    def _options(self) -> list[RungOption]:
        if self._family is None:
            return []
        budget = MemoryBudget.from_system(self._settings.memory, self._reserved)
        self._reports = family_report(
            self._family,
            self._context_length,
            budget,
            gpu_layers=self._settings.model.gpu_layers,
            batch_size=self._settings.model.batch_size,
        )
        options = rung_options(self._reports)
        if self._lowest is None:
            return options
        floor = precision_rank(self._lowest)
        return [o for o in options if precision_rank(o.rung) >= floor]

    def _sample_once(self) -> None:
        self._apply_commands()
        sample = sample_memory()
        self.sampled.emit(sample)
        governor, family = self._governor, self._family
        if governor is None or family is None or not self._enabled:
            return  # off: memory is still shown, nothing is switched
        current = governor.state.current_rung
        # The loaded rung's estimate from the previous sample's reports: the family is estimated once.
        model_bytes = next((r.estimate.total_bytes for r in self._reports if r.quantization == current), 0)
        for event in governor.observe(sample, complexity=self._complexity, current_model_bytes=model_bytes):
            log.info("governor: %s", event.to_json_dict())
            if isinstance(event, LevelChange):
                self.level_changed.emit(event)
            elif isinstance(event, RungWanted):
                source = family.best_source()
                if source is not None:
                    self.suggested.emit(RungSuggestion(event, family.key, family.display_name, source.path))
            elif event.is_switch:
                self.planned.emit(self._plan(event, family))

    def _plan(self, decision: Decision, family: ModelFamily) -> SwitchPlan:
        target = family.file_for(decision.to_rung)
        source = family.best_source()
        report = next((r for r in self._reports if r.quantization == decision.to_rung), None)
        context = self._context_length
        if report is not None and report.fit == "shorter_context" and report.max_context:
            context = min(context, report.max_context)  # what the fit check chose, not the configured one
        return SwitchPlan(
            decision,
            family.key,
            family.display_name,
            target.path if target is not None else None,
            source.path if source is not None else None,
            context,
            report.gpu_layers if report is not None else None,
        )


class GovernorService(QObject):
    """Runs the memory governor for the loaded model's family. Lives on the GUI thread.

    Signals:
        pressure_changed(str, MemorySample): the pressure level in force changed.
        switched(Decision): a swap to another rung was started.
        sampled(MemorySample): the latest sample (for the status bar and charts).
        rung_suggested(RungSuggestion): a missing rung would help the loaded family; making it
            needs the user's yes (memory.make_rungs_automatically is off).
    """

    pressure_changed = Signal(str, object)
    switched = Signal(object)
    sampled = Signal(object)
    rung_suggested = Signal(object)

    def __init__(
        self,
        inference: InferenceService,
        library: ModelLibraryService,
        quantization: QuantizationService,
        settings: Settings,
        *,
        config: GovernorConfig | None = None,
        interval_s: float = 1.0,
    ) -> None:
        super().__init__()
        self._inference = inference
        self._library = library
        self._quantization = quantization
        self._settings = settings
        self._family: ModelFamily | None = None
        self._pending: SwitchPlan | None = None  # waits for the reply in progress
        self._making: SwitchPlan | None = None  # waits for the quantizer's rung
        self._swap_load: int | None = None  # the load request a swap made, until it ends
        self._last_swap_load: int | None = None  # kept after it ends, for listeners connected later
        self._pinned: str | None = None
        self.level: PressureLevel = "normal"
        self.last_sample: MemorySample | None = None
        inference.model_loaded.connect(self._on_model_loaded)
        inference.model_load_failed.connect(self._on_model_load_failed)
        inference.request_dropped.connect(self._on_request_dropped)
        inference.model_unloaded.connect(self._on_model_unloaded)
        inference.generation_finished.connect(self._on_reply_ended)
        inference.generation_failed.connect(self._on_reply_ended)
        library.scanned.connect(self._on_library_scanned)
        quantization.finished.connect(self._on_rung_made)
        quantization.failed.connect(self._on_quantization_ended)
        quantization.cancelled.connect(self._on_quantization_cancelled)
        self._sampler = MemorySampler(
            settings, config or GovernorConfig.from_settings(settings.memory), interval_s
        )
        self._sampler.sampled.connect(self._on_sample)
        self._sampler.level_changed.connect(self._on_level_changed)
        self._sampler.planned.connect(self._on_planned)
        self._sampler.suggested.connect(self._on_suggested)
        self._sampler.start()

    @property
    def family(self) -> ModelFamily | None:
        """The family of the loaded model, when the library knows it."""
        return self._family

    def made_load(self, request_id: int) -> bool:
        """Whether the load ``request_id`` was the governor's swap (not the user's choice)."""
        return request_id == self._last_swap_load

    @property
    def pinned_rung(self) -> str | None:
        """The rung the user pinned; None while the governor chooses."""
        return self._pinned

    def pin(self, rung: str | None) -> None:
        """Keep ``rung`` (auto off), or give the choice back to the governor with None."""
        self._pinned = rung
        self._sampler.post(_Pin(rung))

    def set_enabled(self, enabled: bool) -> None:
        """Switch the governor on or off (memory is sampled and shown either way)."""
        self._sampler.post(_Enabled(enabled))

    def apply_settings(self, settings: Settings) -> None:
        """New memory thresholds, on/off and estimate parameters, from the next sample on."""
        self._settings = settings
        self._sampler.post(_NewSettings(settings))

    @Slot(int)
    def set_reserved_bytes(self, reserved_bytes: int) -> None:
        """Keep ``reserved_bytes`` free beside the model for what is about to load (the embeddings model)."""
        self._sampler.post(_Reserved(reserved_bytes))

    @Slot(object)
    def apply_role(self, role: Role) -> None:
        """Never choose a rung below the role's lowest acceptable one."""
        self._sampler.post(_LowestRung(role.min_rung))

    @property
    def state(self) -> GovernorState | None:
        """What the governor believes after its last sample: the rung in force, the level; None while off."""
        return self._sampler.state

    @Slot(object)
    def note_conversation(self, messages: tuple[ChatMessage, ...]) -> None:
        """The conversation changed: the sampler weighs how demanding it is."""
        self._sampler.post(_Conversation(messages))

    def shutdown(self) -> None:
        """Stop sampling (call once, at exit)."""
        self._sampler.stop()

    # -- what the engine and the library report ----------------------------
    def _track(self, info: ModelInfo | None) -> None:
        snapshot = self._library.snapshot
        path = info.path if info is not None else None
        family = snapshot.catalog.find(path) if snapshot is not None and path is not None else None
        if family is None or self._family is None or family.key != self._family.key:
            self._pending = None  # a decision about another family means nothing now
        self._family = family
        rung = info.quantization if info is not None else None
        self._sampler.post(
            _Track(family, rung, info.context_length if info else self._settings.model.context_length)
        )

    @Slot(int, object)
    def _on_model_loaded(self, request_id: int, info: ModelInfo) -> None:
        if request_id == self._swap_load:
            self._swap_load = None
        self._track(info)

    @Slot(int, object, object)
    def _on_model_load_failed(self, request_id: int, _error: ReflexiaError, still_loaded: object) -> None:
        # The governor thought the swap happened, or the load freed the old model before llama.cpp
        # refused the new one: it governs what is really loaded now. With nothing loaded it governs
        # nothing, so no rung is loaded that nobody asked for (it used to retry about once a second).
        self._swap_load = None if request_id == self._swap_load else self._swap_load
        model = still_loaded if isinstance(still_loaded, ModelInfo) else None
        if model is None:
            self._track(None)
        else:
            self._sampler.post(_SetCurrent(model.quantization))

    @Slot(int, str)
    def _on_request_dropped(self, request_id: int, _reason: str) -> None:
        if request_id == self._swap_load:
            self._on_model_load_failed(request_id, ReflexiaError("superseded"), self._inference.model)

    @Slot()
    def _on_model_unloaded(self) -> None:
        self._track(None)

    @Slot(object)
    def _on_library_scanned(self, _snapshot: LibrarySnapshot) -> None:
        # A load that finished before the first scan left the family unknown; a new rung may
        # have joined the family. Either way, look again.
        model = self._inference.model
        if model is None:
            return
        snapshot = self._library.snapshot
        family = snapshot.catalog.find(model.path) if snapshot is not None and model.path else None
        if family != self._family:
            self._track(model)

    # -- what the sampler decided ------------------------------------------
    @Slot(object)
    def _on_sample(self, sample: MemorySample) -> None:
        self.last_sample = sample
        self.sampled.emit(sample)

    @Slot(object)
    def _on_level_changed(self, change: LevelChange) -> None:
        self.level = change.to_level
        self.pressure_changed.emit(change.to_level, change.sample)

    @Slot(object)
    def _on_planned(self, plan: SwitchPlan) -> None:
        if self._family is None or plan.family_key != self._family.key:
            return  # decided before a switch to another family
        self._pending = plan
        self._apply_pending()

    @Slot(object)
    def _on_suggested(self, suggestion: RungSuggestion) -> None:
        if self._family is not None and suggestion.family_key == self._family.key:
            self.rung_suggested.emit(suggestion)

    @Slot(int, object)
    def _on_reply_ended(self, _request_id: int, _outcome: object) -> None:
        self._apply_pending()

    def _apply_pending(self) -> None:
        # Swaps wait for the replies in progress or queued: a reply is never cut.
        plan = self._pending
        if plan is None or self._inference.is_generating or self._inference.is_loading or self._making:
            return
        self._pending = None
        decision = plan.decision
        source = plan.source if plan.target is None and decision.needs_quantization else None
        if source is not None and self._quantization.quantize(source, decision.to_rung, plan.family_name):
            self._making = plan
            return
        if plan.target is None:
            log.warning("governor: no file for %s and none can be made", decision.to_rung)
            self._sampler.post(_SetCurrent(decision.from_rung))
            return
        self._load(plan, plan.target)

    def _load(self, plan: SwitchPlan, path: Path) -> None:
        self.switched.emit(plan.decision)
        self._swap_load = self._last_swap_load = self._inference.load_model(
            ModelRef.file(path), plan.context_length, "governor", gpu_layers=plan.gpu_layers
        )

    @Slot(object)
    def _on_rung_made(self, path: Path) -> None:
        plan, self._making = self._making, None
        if plan is None:
            return  # the user made a rung by hand: nothing to switch to
        self._library.rescan()  # the family learns of the new file when the scan returns
        if self._family is None or plan.family_key != self._family.key:
            return
        self._load(plan, path)

    @Slot(object)
    def _on_quantization_ended(self, _error: object = None) -> None:
        plan, self._making = self._making, None
        if plan is not None:  # the rung was never made: the model did not change
            self._sampler.post(_SetCurrent(plan.decision.from_rung))

    @Slot()
    def _on_quantization_cancelled(self) -> None:
        self._on_quantization_ended()
