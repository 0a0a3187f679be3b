"""Policy tests of the memory governor, driven by scripted memory traces.

Traces are one sample per second of synthetic time on a 100 GiB machine, so a
used percentage reads as GiB. The family's estimates are those of a ~30B model.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace

import pytest

from reflexia.core.config.settings import MemorySettings
from reflexia.core.memory.complexity import complexity_of
from reflexia.core.memory.governor import (
    Decision,
    GovernorConfig,
    GovernorEvent,
    GovernorState,
    LevelChange,
    MemoryGovernor,
    RungOption,
    RungWanted,
    classify_pressure,
    decide,
    fits,
    rung_budget,
)
from reflexia.core.memory.monitor import MemorySample, sample_memory
from reflexia.core.models.ladder import LADDER

GIB = 1024**3
TOTAL = 100 * GIB

ESTIMATE_GIB = {"q4_0": 16, "q4_k_m": 18, "q5_k_m": 22, "q8_0": 32, "f16": 60}
CLI_KEYS = {"event", "level", "from", "to", "reason", "available_mb", "used_percent"}


def family(missing: Sequence[str] = (), creatable: Sequence[str] = ()) -> list[RungOption]:
    return [
        RungOption(rung, ESTIMATE_GIB[rung] * GIB, exists=rung not in missing, can_create=rung in creatable)
        for rung in LADDER
    ]


def at(t: float, used_percent: float) -> MemorySample:
    available = int(TOTAL * (100 - used_percent) / 100)
    return MemorySample(time_s=t, total_bytes=TOTAL, available_bytes=available, used_percent=used_percent)


def ramp(begin: float, end: float, seconds: int) -> list[float]:
    return [begin + (end - begin) * i / (seconds - 1) for i in range(seconds)]


def samples(percents: Sequence[float], start: float = 0.0) -> list[MemorySample]:
    return [at(start + i, used) for i, used in enumerate(percents)]


def run(
    governor: MemoryGovernor, trace: Sequence[MemorySample], complexity: float = 0.0
) -> list[GovernorEvent]:
    """Feed the trace as the services timer would, as if every swap finished at once."""
    events: list[GovernorEvent] = []
    for sample in trace:
        current = governor.state.current_rung
        model_bytes = ESTIMATE_GIB[current] * GIB if current else 0
        events += governor.observe(sample, complexity=complexity, current_model_bytes=model_bytes)
    return events


def switches(events: Sequence[GovernorEvent]) -> list[tuple[float, str | None, str]]:
    return [
        (e.sample.time_s, e.from_rung, e.to_rung) for e in events if isinstance(e, Decision) and e.is_switch
    ]


def levels(events: Sequence[GovernorEvent]) -> list[tuple[float, str, str]]:
    return [(e.sample.time_s, e.from_level, e.to_level) for e in events if isinstance(e, LevelChange)]


def governor(current: str | None = "q8_0", config: GovernorConfig | None = None) -> MemoryGovernor:
    return MemoryGovernor(config or GovernorConfig(), family(), current_rung=current)


# Pressure levels


def test_thresholds_and_hysteresis() -> None:
    config = GovernorConfig()
    assert classify_pressure(at(0, 79.9), "normal", config) == "normal"
    assert classify_pressure(at(0, 80), "normal", config) == "high"
    assert classify_pressure(at(0, 92), "normal", config) == "critical"
    assert classify_pressure(at(0, 76), "high", config) == "high"  # leaves only below 75
    assert classify_pressure(at(0, 74.9), "high", config) == "normal"
    assert classify_pressure(at(0, 88), "critical", config) == "critical"  # leaves only below 87
    assert classify_pressure(at(0, 86), "critical", config) == "high"
    assert classify_pressure(at(0, 50), "critical", config) == "normal"
    small = MemorySample(time_s=0, total_bytes=4 * GIB, available_bytes=GIB - 1, used_percent=75)
    assert classify_pressure(small, "normal", config) == "critical"  # under the 1 GiB free floor


def test_config_from_settings_and_validation() -> None:
    settings = MemorySettings(
        max_memory_percent=70,
        min_free_memory_mb=2048,
        high_pressure_percent=75,
        critical_pressure_percent=90,
        governor_enabled=True,
        make_rungs_automatically=True,
        dwell_seconds=3,
        recovery_seconds=45,
    )
    config = GovernorConfig.from_settings(settings)
    assert config.make_rungs is True
    assert (config.high_percent, config.critical_percent, config.max_memory_percent) == (75, 90, 70)
    assert config.min_free_bytes == 2 * GIB
    assert (config.hysteresis_percent, config.min_dwell_s, config.recovery_s) == (5, 3, 45)
    with pytest.raises(ValueError):
        GovernorConfig(high_percent=95, critical_percent=90)
    with pytest.raises(ValueError):
        GovernorConfig(min_dwell_s=-1)


def test_budget_counts_the_unloaded_model_and_both_caps() -> None:
    config = GovernorConfig()
    sample = at(0, 85)  # 15 GiB free, 32 GiB of it the loaded model: others use 53
    assert rung_budget(sample, config, 32 * GIB) == 32 * GIB  # 85% of total minus others
    assert rung_budget(sample, config, 32 * GIB, moving_up=True) == 22 * GIB  # stays below 75% used
    assert rung_budget(at(0, 99), config) == 0
    assert fits(RungOption("x", 19 * GIB), 22 * GIB, 0.1)
    assert not fits(RungOption("x", 21 * GIB), 22 * GIB, 0.1)
    # Memory kept for the embeddings model about to load is not a rung's to take.
    assert rung_budget(sample, replace(config, reserved_bytes=GIB), 32 * GIB) == 31 * GIB


# Scripted traces


def test_ramp_steps_down_at_high_then_to_the_lowest_at_critical() -> None:
    events = run(governor("q8_0"), samples(ramp(50, 95, 46) + [95] * 30))
    # high from t=30 (80%), held 5 s; critical from t=42 (92%), held 5 s
    assert levels(events) == [(35, "normal", "high"), (47, "high", "critical")]
    # at 85% with q8_0 loaded the budget is 32 GiB: q5_k_m (22 GiB + 10%) is the highest that fits
    assert switches(events) == [(35, "q8_0", "q5_k_m"), (47, "q5_k_m", "q4_0")]


@pytest.mark.parametrize(("width", "triggers"), [(1, False), (5, False), (6, True)])
def test_a_spike_must_last_the_dwell_time(width: int, triggers: bool) -> None:
    events = run(governor("q8_0"), samples([60] * 20 + [95] * width + [60] * 20))
    if triggers:
        assert levels(events)[0] == (25, "normal", "critical")
        assert switches(events) == [(25, "q8_0", "q4_0")]
    else:
        assert events == []


def test_below_the_free_floor_critical_counts_at_once() -> None:
    events = run(governor("q8_0"), samples([60] * 10 + [99.5]))
    assert levels(events) == [(10, "normal", "critical")]
    assert switches(events) == [(10, "q8_0", "q4_0")]


@pytest.mark.parametrize(("low", "high"), [(79, 81), (76, 84)])
def test_fast_oscillation_around_the_threshold_does_nothing(low: float, high: float) -> None:
    assert run(governor("q8_0"), samples([low, high] * 60)) == []


def test_oscillation_after_high_pressure_switches_once() -> None:
    events = run(governor("q8_0"), samples([60] * 5 + [84] * 6 + [76, 84] * 60))
    assert levels(events) == [(10, "normal", "high")]
    assert switches(events) == [(10, "q8_0", "q5_k_m")]


def test_slow_oscillation_is_held_by_hysteresis() -> None:
    trace = samples(([81] * 10 + [77] * 10) * 6)
    held = run(governor("q8_0"), trace)
    assert len(levels(held)) == 1 and len(switches(held)) == 1
    assert (
        len(levels(run(governor("q8_0", GovernorConfig(hysteresis_percent=0)), trace))) > 2
    )  # what hysteresis prevents


def test_recovery_steps_up_one_rung_per_recovery_period() -> None:
    events = run(governor("q4_0"), samples([95] * 10 + [45] * 200))
    assert levels(events) == [(0, "normal", "critical"), (15, "critical", "normal")]
    # pressure fell at t=10; f16 (60 GiB + 10%) would push used past 75%, so q8_0 is the top
    assert switches(events) == [(40, "q4_0", "q4_k_m"), (70, "q4_k_m", "q5_k_m"), (100, "q5_k_m", "q8_0")]
    assert all(d.kind == "step_up" for d in events if isinstance(d, Decision))


def test_recovery_restarts_when_pressure_returns() -> None:
    events = run(governor("q4_0"), samples([95] * 10 + [45] * 20 + [85] * 10 + [45] * 40))
    assert switches(events)[0] == (70, "q4_0", "q4_k_m")  # normal again from t=40


def test_first_load_takes_the_best_rung_that_fits() -> None:
    (decision,) = run(governor(None), samples([50]))
    assert isinstance(decision, Decision)
    assert (decision.kind, decision.from_rung, decision.to_rung) == ("initial", None, "q5_k_m")
    events = run(governor(None), samples([95]))
    assert switches(events) == [(0, None, "q4_0")]
    assert switches(run(governor(None), samples([74]))) == [(0, None, "q4_0")]  # nothing fits


# Pinning


def test_a_pinned_rung_never_switches_but_says_so() -> None:
    gov = governor("q8_0")
    gov.pin("q8_0")
    events = run(gov, samples(ramp(50, 95, 46) + [95] * 30 + [45] * 200))
    assert len(levels(events)) == 3
    assert switches(events) == []
    pinned = [e for e in events if isinstance(e, Decision)]
    assert [(d.kind, d.from_rung, d.to_rung) for d in pinned] == [("pinned", "q8_0", "q8_0")] * 2
    assert pinned[0].reason.startswith("pinned: staying on q8_0")
    assert gov.state.current_rung == "q8_0"


def test_pinning_another_rung_loads_it_and_unpinning_gives_control_back() -> None:
    gov = governor("q4_0")
    gov.pin("q8_0")
    assert switches(run(gov, samples([45]))) == [(0, "q4_0", "q8_0")]
    gov.pin(None)
    gov.set_current("q4_0")
    assert switches(run(gov, samples([45] * 40, start=1))) == [(30, "q4_0", "q4_k_m")]
    with pytest.raises(ValueError):
        gov.pin("q3_k")


# Missing rungs


def step_down_events(options: list[RungOption], make_rungs: bool = True) -> list[GovernorEvent]:
    state = GovernorState(level="normal", level_since=0, current_rung="q8_0", last_sample_s=0)
    sample = at(10, 85)
    config = GovernorConfig(min_dwell_s=0, make_rungs=make_rungs)
    _, events = decide(sample, options, state, config, current_model_bytes=32 * GIB)
    return events


def step_down(options: list[RungOption]) -> Decision:
    decision = step_down_events(options)[-1]
    assert isinstance(decision, Decision)
    return decision


def test_an_existing_rung_is_preferred_to_quantizing() -> None:
    decision = step_down(family(missing=("q4_k_m", "q5_k_m"), creatable=("q4_k_m", "q5_k_m")))
    assert (decision.to_rung, decision.needs_quantization) == ("q4_0", False)


def test_a_missing_rung_is_made_when_no_existing_rung_will_do() -> None:
    lower = ("q4_0", "q4_k_m", "q5_k_m")
    decision = step_down(family(missing=lower, creatable=lower))
    assert (decision.to_rung, decision.needs_quantization) == ("q5_k_m", True)
    assert "quantizer" in decision.reason


def test_without_the_users_yes_a_missing_rung_is_named_and_only_files_on_disk_are_chosen() -> None:
    lower = ("q4_0", "q4_k_m", "q5_k_m")
    events = step_down_events(family(missing=lower, creatable=lower), make_rungs=False)
    wanted = [e for e in events if isinstance(e, RungWanted)]
    assert [(w.rung, w.current_rung) for w in wanted] == [("q5_k_m", "q8_0")]
    assert "quantizer" not in wanted[0].reason and wanted[0].to_json_dict()["event"] == "rung_wanted"
    assert [e for e in events if isinstance(e, Decision)] == []  # nothing below q8_0 is on disk
    assert GovernorConfig().make_rungs is False  # off unless the user says so


def test_without_the_users_yes_the_governor_falls_back_to_a_rung_on_disk() -> None:
    events = step_down_events(family(missing=("q5_k_m",), creatable=("q5_k_m",)), make_rungs=False)
    decisions = [e for e in events if isinstance(e, Decision)]
    assert [(d.to_rung, d.needs_quantization) for d in decisions] == [("q4_k_m", False)]
    assert [e.rung for e in events if isinstance(e, RungWanted)] == []  # q4_k_m fits: nothing to ask


def test_a_step_up_never_makes_a_file_it_goes_to_the_next_rung_on_disk() -> None:
    config = GovernorConfig(make_rungs=True)
    creatable = MemoryGovernor(config, family(missing=["q4_k_m"], creatable=["q4_k_m"]), current_rung="q4_0")
    assert switches(run(creatable, samples([45] * 31))) == [(30, "q4_0", "q5_k_m")]
    absent = MemoryGovernor(config, family(missing=["q4_k_m"]), current_rung="q4_0")
    assert switches(run(absent, samples([45] * 31))) == [(30, "q4_0", "q5_k_m")]


def test_only_an_f16_file_and_normal_memory_make_no_files_every_recovery_period() -> None:
    # The reported churn: after one step down to a made rung, each step up made another file.
    lower = ("q4_0", "q4_k_m", "q5_k_m", "q8_0")
    options = family(missing=lower, creatable=lower)
    gov = MemoryGovernor(GovernorConfig(make_rungs=True, recovery_s=30), options, current_rung="f16")
    events = run(gov, samples([20] * 3 + [97] * 8 + [20] * 150))
    made = [e.to_rung for e in events if isinstance(e, Decision) and e.needs_quantization]
    assert made == ["q4_0"]  # critical: the smallest rung, made once
    assert switches(events)[1:] == [(41, "q4_0", "f16")]  # then straight back to the file on disk


# Complexity


def test_demanding_content_steps_up_early_when_there_is_room() -> None:
    events = run(governor("q4_0"), samples([45] * 12), complexity=0.9)
    assert switches(events) == [(5, "q4_0", "q4_k_m"), (10, "q4_k_m", "q5_k_m")]
    first = next(e for e in events if isinstance(e, Decision))
    assert first.kind == "complexity" and "complexity 0.90" in first.reason


def test_demanding_content_waits_without_double_headroom() -> None:
    # others use 54.5 GiB: 20.5 GiB below 75% fits q4_k_m with 10% headroom, not with 20%
    events = run(governor("q4_0"), samples([70.5] * 31), complexity=0.9)
    assert switches(events) == [(30, "q4_0", "q4_k_m")]
    assert run(governor("q4_0"), samples([45] * 12), complexity=0.4) == []


def test_complexity_heuristic() -> None:
    assert complexity_of("hello there", 100, 4096, False) < 0.1
    code = "Fix this:\n```python\ndef f(x):\n    return x\n```"
    assert 0.4 <= complexity_of(code, 0, 4096, False) < 0.5
    assert complexity_of(r"Prove \frac{a}{b} ≤ 1", 0, 4096, False) == pytest.approx(0.3)
    assert complexity_of("summarise", 4096, 4096, False) == pytest.approx(0.4)
    assert complexity_of("what does it say?", 0, 4096, True) == pytest.approx(0.25)
    assert complexity_of(code + " x^2 ∑", 0, 4096, False) > 0.5
    assert complexity_of(code + " x^2", 8192, 4096, True) == 1.0


# Events


def test_every_event_carries_its_snapshot_and_the_cli_keys() -> None:
    events = run(governor("q8_0"), samples(ramp(50, 95, 46)))
    assert {type(e) for e in events} == {LevelChange, Decision}
    for event in events:
        data = event.to_json_dict()
        assert data.keys() >= CLI_KEYS
        json.dumps(data)
        assert data["available_mb"] == round(event.sample.available_mb)
        assert data["used_percent"] == round(event.sample.used_percent, 1)
        assert data["reason"]
        if isinstance(event, Decision):
            assert data["event"] == "decision" and data["from"] in LADDER and data["to"] in LADDER
            assert "GB free" in event.reason and event.budget_bytes > 0
        else:
            assert data["event"] == "level" and data["level"] == data["to"] == event.to_level


def test_decide_is_pure() -> None:
    state = GovernorState(current_rung="q8_0")
    options = family()
    first = decide(at(0, 95), options, state, GovernorConfig())
    assert first == decide(at(0, 95), options, state, GovernorConfig())
    assert state == GovernorState(current_rung="q8_0")


def test_a_decision_counts_as_done_until_the_caller_says_otherwise() -> None:
    gov = governor("q8_0")
    run(gov, samples([95]))
    assert gov.state.current_rung == "q4_0"
    gov.set_current("q5_k_m")  # the swap fell back
    assert gov.state.current_rung == "q5_k_m"


def test_sample_memory_reads_live_numbers() -> None:
    first, second = sample_memory(), sample_memory()
    assert first.total_bytes > 0 and 0 < first.available_bytes <= first.total_bytes
    assert 0 <= first.used_percent <= 100 and 0 <= first.swap_used_percent <= 100
    assert first.process_rss_bytes > 10 * 1024 * 1024
    assert second.time_s >= first.time_s
    assert first.available_mb == first.available_bytes / 1024 / 1024
