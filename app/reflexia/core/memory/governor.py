"""The memory governor: which rung of a model family to run under memory pressure.

Policy lives here, scheduling does not: :func:`decide` is a pure function from a
memory sample, the family's rungs and the previous state to a new state and events.
The services layer feeds it a sample about once a second and turns decisions into
unload/load requests that the inference worker carries out between replies.

Rules, with the thresholds of :class:`GovernorConfig`:

* Pressure is ``critical`` at ``used >= critical_percent`` or below ``min_free_bytes``
  available, ``high`` at ``used >= high_percent``, else ``normal``. Leaving a level
  takes ``hysteresis_percent`` below its threshold (for critical also that share of
  total memory above the free floor).
* On macOS the kernel's own level (normal, warning, critical) counts first and the thresholds
  above are a second signal: the higher wins. Memory there is counted as macOS counts it
  (``macos_memory``); psutil's figure would read 80% used on a healthy Mac.
* A new level counts once seen for ``min_dwell_s``; critical below the free floor (or
  critical by the system's own word) counts at once, because waiting there risks swapping
  or the OOM killer.
* A rung's budget is what it could have if the current model were unloaded, less the
  free floor, and at most ``max_memory_percent`` of total less what others use. It
  fits when ``estimate * (1 + headroom_fraction)`` is within the budget. Moving up
  must also leave ``used`` below ``high_percent - hysteresis_percent``, so a step up
  cannot cause the pressure that would step it back down.
* Pressure rising to high: the highest fitting rung below the current one (the
  lowest below it when none fits). Rising to critical: the lowest rung. A level that
  merely persists does not step down again; if one step is not enough, pressure
  climbs to critical.
* Normal for ``recovery_s``, counted from when pressure fell and from the last
  switch: one rung up, if it fits. Demanding content (complexity above 0.5) waits
  only ``min_dwell_s`` but needs double headroom.
* New files need the user's yes (``make_rungs``, off by default). While it is off the
  governor chooses among files that exist, and when a missing rung would have helped it
  says so with a :class:`RungWanted` event instead of deciding to make it.
* An existing file is preferred; a missing rung the quantizer can make is chosen only
  when no existing rung will do (``needs_quantization``), and only on the way down: a
  step up goes to the next rung that exists, never further, so a wrong estimate cannot
  overshoot, and memory that is merely normal never costs a new file (stepping up
  through made rungs used to write one file every ``recovery_s``).
* A pinned rung is loaded and kept. When pressure rises while pinned, a ``pinned``
  decision with ``from == to`` records that the governor would have moved.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from reflexia.core.memory.macos_memory import MACOS_NAMES
from reflexia.core.memory.monitor import MemorySample
from reflexia.core.memory.pressure import SEVERITY, PressureLevel
from reflexia.core.units import GB, MB

if TYPE_CHECKING:
    from reflexia.core.config.settings import MemorySettings

DecisionKind = Literal["initial", "step_down", "step_up", "complexity", "pinned"]

_SEVERITY = SEVERITY
COMPLEXITY_THRESHOLD = 0.5
_MADE = "; the quantizer makes it from a higher-precision file"


@dataclass(frozen=True)
class GovernorConfig:
    """Thresholds, timings and headroom of the governor (see the module docstring)."""

    high_percent: float = 80.0  # used memory (%) at which pressure is high
    critical_percent: float = 92.0
    hysteresis_percent: float = 5.0  # of total memory, below a threshold, to leave its level
    min_dwell_s: float = 5.0  # a new level must be seen this long before it counts
    recovery_s: float = 30.0  # pressure must stay normal this long before each step up
    max_memory_percent: float = 85.0  # of total, for other programs and the model together
    min_free_bytes: int = 1024 * MB  # always left free; below it pressure is critical at once
    headroom_fraction: float = 0.1  # a rung's estimate must fit with this share to spare
    reserved_bytes: int = 0  # set aside for what loads beside the model (the embeddings model)
    make_rungs: bool = False  # the user agreed that the quantizer may make missing rungs unasked

    def __post_init__(self) -> None:
        if not 0 < self.high_percent < self.critical_percent <= 100:
            raise ValueError("need 0 < high_percent < critical_percent <= 100")
        timings = (self.hysteresis_percent, self.min_dwell_s, self.recovery_s, self.headroom_fraction)
        if min(*timings, self.min_free_bytes) < 0:
            raise ValueError("hysteresis, times, headroom and the free floor cannot be negative")

    @classmethod
    def from_settings(cls, memory: MemorySettings) -> GovernorConfig:
        """The configured thresholds and timings, with the default headroom."""
        return cls(
            high_percent=memory.high_pressure_percent,
            critical_percent=memory.critical_pressure_percent,
            max_memory_percent=memory.max_memory_percent,
            min_free_bytes=memory.min_free_memory_mb * MB,
            min_dwell_s=memory.dwell_seconds,
            recovery_s=memory.recovery_seconds,
            make_rungs=memory.make_rungs_automatically,
        )


@dataclass(frozen=True)
class RungOption:
    """One rung of the current family (label such as ``q4_k_m``) and what it would cost."""

    rung: str
    estimate_bytes: int
    exists: bool = True  # its file is on disk
    can_create: bool = False  # a higher-precision file exists, so the quantizer can make it


@dataclass(frozen=True)
class GovernorState:
    """What the governor remembers between samples (times on the samples' clock)."""

    level: PressureLevel = "normal"  # in force
    level_since: float | None = None  # when pressure first showed it, before the dwell
    pending_level: PressureLevel | None = None  # seen, not yet held for the dwell time
    pending_since: float | None = None  # when pressure first moved toward it
    current_rung: str | None = None  # loaded or last asked for; None before the first load
    pinned_rung: str | None = None  # None: the governor chooses
    last_switch_s: float | None = None  # when the governor last asked for a different rung
    last_sample_s: float | None = None  # None before the first sample

    @property
    def normal_since(self) -> float | None:
        """Since when pressure has been normal; None while it is not."""
        return self.level_since if self.level == "normal" else None


def _pressure_text(sample: MemorySample) -> str:
    text = f"{sample.used_percent:.0f}% used, {sample.available_gb:.1f} GB free"
    if sample.system_pressure is not None:
        text += f", macOS reports {MACOS_NAMES[sample.system_pressure]} pressure"
    return text


def _json(
    event: str, level: str, old: str | None, new: str, why: str, sample: MemorySample
) -> dict[str, Any]:
    return {
        "event": event,
        "level": level,
        "from": old,
        "to": new,
        "reason": why,
        "available_mb": round(sample.available_mb),
        "used_percent": round(float(sample.used_percent), 1),
    }


@dataclass(frozen=True)
class LevelChange:
    """Pressure moved to another level (after the dwell time)."""

    from_level: PressureLevel
    to_level: PressureLevel
    sample: MemorySample

    @property
    def reason(self) -> str:
        """A sentence for the log and the status bar."""
        return f"memory pressure {self.from_level} → {self.to_level}: {_pressure_text(self.sample)}"

    def to_json_dict(self) -> dict[str, Any]:
        """The CLI's JSON line: ``from`` and ``to`` are levels."""
        return _json("level", self.to_level, self.from_level, self.to_level, self.reason, self.sample)


@dataclass(frozen=True, kw_only=True)
class Decision:
    """Run ``to_rung`` instead of ``from_rung``, for ``reason``, given ``sample``."""

    from_rung: str | None
    to_rung: str
    reason: str
    level: PressureLevel
    sample: MemorySample
    needs_quantization: bool  # the quantizer must make to_rung first
    kind: DecisionKind
    budget_bytes: int

    @property
    def is_switch(self) -> bool:
        """False for a pinned rung reporting that it stays."""
        return self.to_rung != self.from_rung

    def to_json_dict(self) -> dict[str, Any]:
        """The CLI's JSON line: ``from`` and ``to`` are rungs."""
        data = _json("decision", self.level, self.from_rung, self.to_rung, self.reason, self.sample)
        data.update(kind=self.kind, needs_quantization=self.needs_quantization)
        return data


@dataclass(frozen=True, kw_only=True)
class RungWanted:
    """A missing rung would help now, but new files need the user's yes (``make_rungs`` is off)."""

    rung: str
    reason: str
    level: PressureLevel
    sample: MemorySample
    current_rung: str | None

    def to_json_dict(self) -> dict[str, Any]:
        """The CLI's JSON line: ``to`` is the rung that would help."""
        return _json("rung_wanted", self.level, self.current_rung, self.rung, self.reason, self.sample)


GovernorEvent: TypeAlias = LevelChange | Decision | RungWanted


def classify_pressure(sample: MemorySample, level: PressureLevel, config: GovernorConfig) -> PressureLevel:
    """The level this sample shows, given the level in force (for hysteresis).

    Where the system reports its own level (macOS), that level counts first and our thresholds
    are a second signal: the higher of the two wins.
    """
    ours = _threshold_level(sample, level, config)
    system = sample.system_pressure
    if system is None or _SEVERITY[ours] >= _SEVERITY[system]:
        return ours
    return system


def _threshold_level(sample: MemorySample, level: PressureLevel, config: GovernorConfig) -> PressureLevel:
    used, margin, floor = sample.used_percent, config.hysteresis_percent, config.min_free_bytes
    if used >= config.critical_percent or sample.available_bytes < floor:
        return "critical"
    if level == "critical":
        release_free = floor + sample.total_bytes * margin / 100
        if used >= config.critical_percent - margin or sample.available_bytes < release_free:
            return "critical"
    if used >= config.high_percent or (level != "normal" and used >= config.high_percent - margin):
        return "high"
    return "normal"


def rung_budget(
    sample: MemorySample, config: GovernorConfig, current_model_bytes: int = 0, *, moving_up: bool = False
) -> int:
    """Bytes a rung may take once the current model (``current_model_bytes``) is unloaded."""
    others = max(0, sample.used_bytes - current_model_bytes)
    budget = min(
        sample.available_bytes + current_model_bytes - config.min_free_bytes,
        sample.total_bytes * config.max_memory_percent / 100 - others,
    )
    if moving_up:  # stay clear of the high threshold, or the step up would be undone
        budget = min(
            budget, sample.total_bytes * (config.high_percent - config.hysteresis_percent) / 100 - others
        )
    return max(0, int(budget) - config.reserved_bytes)


def fits(option: RungOption, budget_bytes: int, headroom_fraction: float) -> bool:
    """Whether the rung's estimate, with headroom to spare, is within the budget."""
    return option.estimate_bytes * (1 + headroom_fraction) <= budget_bytes


def _track_level(
    sample: MemorySample, state: GovernorState, config: GovernorConfig
) -> tuple[GovernorState, LevelChange | None]:
    t = sample.time_s
    raw = classify_pressure(sample, state.level, config)
    if state.last_sample_s is None:  # nothing to dwell against yet
        change = LevelChange("normal", raw, sample) if raw != "normal" else None
        return replace(state, level=raw, level_since=t, last_sample_s=t), change
    if raw == state.level:
        return replace(state, pending_level=None, pending_since=None, last_sample_s=t), None
    rising = _SEVERITY[raw] > _SEVERITY[state.level]
    pending = state.pending_level
    same_way = pending is not None and (_SEVERITY[pending] > _SEVERITY[state.level]) == rising
    since = state.pending_since if same_way and state.pending_since is not None else t
    # Critical below the free floor, or critical by the system's own word, cannot wait.
    urgent = raw == "critical" and (
        sample.available_bytes < config.min_free_bytes or sample.system_pressure == "critical"
    )
    if not urgent and t - since < config.min_dwell_s:
        return replace(state, pending_level=raw, pending_since=since, last_sample_s=t), None
    change = LevelChange(state.level, raw, sample)
    adopted = replace(
        state, level=raw, level_since=since, pending_level=None, pending_since=None, last_sample_s=t
    )
    return adopted, change


def _prefer_existing(options: Sequence[RungOption], highest: bool) -> RungOption | None:
    pool = [o for o in options if o.exists] or [o for o in options if o.can_create]
    if not pool:
        return None
    return pool[-1] if highest else pool[0]


def _best_fit(options: Sequence[RungOption], budget: int, headroom: float) -> RungOption | None:
    return _prefer_existing([o for o in options if fits(o, budget, headroom)], highest=True)


def _choose(
    sample: MemorySample,
    options: Sequence[RungOption],
    state: GovernorState,
    config: GovernorConfig,
    change: LevelChange | None,
    complexity: float,
    current_model_bytes: int,
) -> Decision | None:
    usable = [o for o in options if o.exists or o.can_create]
    budget = rung_budget(sample, config, current_model_bytes)
    up_budget = rung_budget(sample, config, current_model_bytes, moving_up=True)
    headroom, pressure = config.headroom_fraction, _pressure_text(sample)

    def decision(kind: DecisionKind, option: RungOption, budget_bytes: int, why: str) -> Decision:
        made = "" if option.exists else _MADE
        return Decision(
            from_rung=state.current_rung, to_rung=option.rung, reason=why + made, level=state.level,
            sample=sample, needs_quantization=not option.exists, kind=kind, budget_bytes=budget_bytes,
        )  # fmt: skip

    rising = change is not None and _SEVERITY[change.to_level] > _SEVERITY[change.from_level]
    if state.pinned_rung is not None:
        pinned = next((o for o in usable if o.rung == state.pinned_rung), None)
        if pinned is None:
            return None
        if state.current_rung != pinned.rung:
            why = f"pinned by the user: {pinned.rung} (memory pressure {state.level}, {pressure})"
            return decision("pinned", pinned, budget, why)
        if rising:
            why = f"pinned: staying on {pinned.rung} although memory pressure is {state.level} ({pressure})"
            return decision("pinned", pinned, budget, why)
        return None

    if state.current_rung is None:
        choice = _prefer_existing(usable, highest=False)
        if choice is None:
            return None
        best = None if state.level == "critical" else _best_fit(usable, up_budget, headroom)
        if best is not None:  # loading is a move up from nothing, so the up budget applies
            why = f"{best.rung} is the best rung within the {up_budget / GB:.1f} GB budget"
        elif state.level == "critical":
            why = f"memory pressure critical, so the smallest rung, {choice.rung}"
        else:
            why = f"nothing fits the {up_budget / GB:.1f} GB budget, so the smallest rung, {choice.rung}"
        return decision("initial", best or choice, up_budget, f"{why} ({pressure})")

    names = [o.rung for o in options]
    if state.current_rung not in names:
        return None  # a file outside the ladder: the user's choice, left alone
    index = names.index(state.current_rung)
    below = [o for o in options[:index] if o.exists or o.can_create]
    above = [o for o in options[index + 1 :] if o.exists]  # never a new file for a step up

    if rising and below:
        best = None if state.level == "critical" else _best_fit(below, budget, headroom)
        target = best or _prefer_existing(below, highest=False)
        assert target is not None  # below holds only rungs that exist or can be made
        if best is not None:
            why = f"{target.rung} fits the {budget / GB:.1f} GB budget"
        elif state.level == "high":
            why = f"nothing fits the {budget / GB:.1f} GB budget, so the smallest rung, {target.rung}"
        else:
            why = f"the smallest rung, {target.rung}"
        return decision("step_down", target, budget, f"memory pressure {state.level}: {pressure}; {why}")

    if state.level != "normal" or not above:
        return None
    step = above[0]
    calm_s = sample.time_s - max(t for t in (state.level_since, state.last_switch_s) if t is not None)
    room = f"{step.rung} fits the {up_budget / GB:.1f} GB budget"
    if calm_s >= config.recovery_s and fits(step, up_budget, headroom):
        why = f"memory pressure normal for {calm_s:.0f} s ({pressure}); {room}"
        return decision("step_up", step, up_budget, why)
    eager = complexity > COMPLEXITY_THRESHOLD and calm_s >= config.min_dwell_s
    if eager and fits(step, up_budget, 2 * headroom):
        why = (
            f"demanding content (complexity {complexity:.2f}), memory normal ({pressure}); {room} twice over"
        )
        return decision("complexity", step, up_budget, why)
    return None


def decide(
    sample: MemorySample,
    options: Sequence[RungOption],
    state: GovernorState,
    config: GovernorConfig,
    *,
    complexity: float = 0.0,
    current_model_bytes: int = 0,
) -> tuple[GovernorState, list[GovernorEvent]]:
    """Take in one sample and say what, if anything, should change.

    Args:
        sample: The latest memory sample; samples must come in time order.
        options: The family's rungs, lowest precision first.
        state: What the previous call returned (``GovernorState()`` at first).
        config: Thresholds and timings.
        complexity: How demanding the conversation is, 0 to 1 (see ``reflexia.core.memory.complexity``).
        current_model_bytes: Memory the loaded model takes; it counts toward what a new rung may use.

    Returns:
        The new state (a decision counts as done: ``current_rung`` is its target) and
        the events: a level change first, then a rung wanted (only while ``make_rungs`` is off),
        then at most one decision.
    """
    state, change = _track_level(sample, state, config)
    events: list[GovernorEvent] = [change] if change is not None else []
    decision = _choose(sample, options, state, config, change, complexity, current_model_bytes)
    if not config.make_rungs and decision is not None and decision.needs_quantization:
        # Without the user's yes only files on disk are chosen; the rung that would help is named.
        why = decision.reason.removesuffix(_MADE)
        wanted = RungWanted(
            rung=decision.to_rung, reason=why, level=decision.level, sample=sample,
            current_rung=state.current_rung,
        )  # fmt: skip
        events.append(wanted)
        on_disk = [replace(o, can_create=False) for o in options if o.exists]
        decision = _choose(sample, on_disk, state, config, change, complexity, current_model_bytes)
    if decision is not None:
        events.append(decision)
        if decision.is_switch:
            state = replace(state, current_rung=decision.to_rung, last_switch_s=sample.time_s)
    return state, events


OptionsSource: TypeAlias = Sequence[RungOption] | Callable[[], Sequence[RungOption]]


class MemoryGovernor:
    """The governor's state between samples, for callers. One thread owns it."""

    def __init__(
        self,
        config: GovernorConfig,
        options: OptionsSource,
        *,
        current_rung: str | None = None,
        pinned_rung: str | None = None,
    ) -> None:
        """Start a governor.

        Args:
            config: Thresholds and timings.
            options: The family's rungs, lowest precision first, or a callable giving
                them fresh each sample (a rung the quantizer has made then exists).
            current_rung: The rung already loaded, if any.
            pinned_rung: The rung the user pinned, if any.
        """
        self._config = config
        self._options = options
        self._state = GovernorState(current_rung=current_rung, pinned_rung=pinned_rung)

    @property
    def config(self) -> GovernorConfig:
        """Thresholds and timings."""
        return self._config

    @property
    def state(self) -> GovernorState:
        """The state after the last sample."""
        return self._state

    def options(self) -> tuple[RungOption, ...]:
        """The family's rungs as they are now."""
        source = self._options
        return tuple(source() if callable(source) else source)

    def observe(
        self, sample: MemorySample, *, complexity: float = 0.0, current_model_bytes: int = 0
    ) -> list[GovernorEvent]:
        """Take in one sample; returns the level changes and decisions it causes."""
        self._state, events = decide(
            sample, self.options(), self._state, self._config,
            complexity=complexity, current_model_bytes=current_model_bytes,
        )  # fmt: skip
        return events

    def pin(self, rung: str | None) -> None:
        """Keep ``rung`` whatever the pressure; None gives the choice back to the governor."""
        if rung is not None and rung not in {o.rung for o in self.options()}:
            raise ValueError(f"{rung!r} is not a rung of this family")
        self._state = replace(self._state, pinned_rung=rung)

    def reconfigure(self, config: GovernorConfig) -> None:
        """New thresholds and timings from the settings; what was observed so far stays."""
        self._config = config

    def set_current(self, rung: str | None) -> None:
        """Record the rung actually loaded once a swap has finished (or failed)."""
        self._state = replace(self._state, current_rung=rung)
