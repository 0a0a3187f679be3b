"""Memory read as macOS counts it, from outputs recorded on real Macs (tests/data/macos/SOURCES.md)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from reflexia.core.config.settings import load_settings
from reflexia.core.memory import macos_memory
from reflexia.core.memory.estimate import MemoryBudget
from reflexia.core.memory.governor import (
    Decision,
    GovernorConfig,
    LevelChange,
    MemoryGovernor,
    RungOption,
    classify_pressure,
)
from reflexia.core.memory.macos_memory import MacMemoryError, parse_pressure_level, parse_vm_stat
from reflexia.core.memory.monitor import MemorySample, SystemMemory, read_system_memory, sample_memory
from reflexia.core.units import GB

DATA = Path(__file__).resolve().parents[1] / "data" / "macos"
M4 = 25_769_803_776
MINI = 34_359_738_368
M3_MAX = 137_438_953_472


def _recorded(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


def _sysctl_line(name: str, key: str) -> str:
    return next(line for line in _recorded(name).splitlines() if line.startswith(key + ":"))


@pytest.mark.parametrize("name", sorted(p.name for p in DATA.glob("vm_stat-*.txt")))
def test_every_recorded_vm_stat_is_read(name: str) -> None:
    vm = parse_vm_stat(_recorded(name))
    assert vm.page_size in (4096, 16384)
    queues = ("Pages free", "Pages active", "Pages inactive", "Pages speculative", "Pages wired down")
    counted = sum(vm.bytes_of(label) for label in queues) + vm.bytes_of("Pages occupied by compressor")
    assert 0 < vm.used_bytes() < counted  # used is part of what the page queues hold


def test_activity_monitors_count_on_the_swapping_m4() -> None:
    vm = parse_vm_stat(_recorded("vm_stat-m4-24gb-swapping.txt"))
    page = 16384
    # App memory (anonymous less purgeable) + wired + compressed, as Activity Monitor's "Memory Used".
    assert vm.used_bytes() == ((346597 - 2) + 229773 + 720838) * page
    assert vm.available_bytes(M4) == M4 - vm.used_bytes()
    assert vm.available_bytes(M4) / GB == pytest.approx(4.2, abs=0.05)


def test_the_idle_m3_max_has_almost_all_its_memory() -> None:
    vm = parse_vm_stat(_recorded("vm_stat-m3max-128gb-idle.txt"))
    assert vm.available_bytes(M3_MAX) / M3_MAX > 0.85


def test_cached_files_count_as_available_where_psutil_counts_them_used() -> None:
    # The idle M3 Max holds 25 GB of file cache, much of it on the active queue: psutil's
    # "available" (free + inactive) leaves it out; macOS gives it up on demand.
    vm = parse_vm_stat(_recorded("vm_stat-m3max-128gb-idle.txt"))
    psutil_available = (
        vm.bytes_of("Pages free") + vm.bytes_of("Pages speculative") + vm.bytes_of("Pages inactive")
    )
    assert vm.available_bytes(M3_MAX) - psutil_available > 4 * GB


def test_the_kernels_pressure_levels() -> None:
    assert (
        parse_pressure_level(_sysctl_line("sysctl-m4-24gb-swapping.txt", macos_memory.PRESSURE_SYSCTL))
        == "high"
    )
    assert parse_pressure_level("1\n") == "normal"
    assert parse_pressure_level("4") == "critical"
    with pytest.raises(MacMemoryError, match="not 1, 2 or 4"):
        parse_pressure_level("3")
    with pytest.raises(MacMemoryError, match="no page size"):
        parse_vm_stat("sysctl: unknown oid")
    with pytest.raises(MacMemoryError, match="Anonymous pages"):
        parse_vm_stat(_recorded("vm_stat-intel-8gb.txt").replace("Anonymous pages", "Anon"))


def _mac_sample(vm_stat: str, total: int, pressure: str, t: float = 0.0) -> MemorySample:
    vm = parse_vm_stat(_recorded(vm_stat))
    level = parse_pressure_level(pressure)
    system = SystemMemory(total, vm.available_bytes(total), level, "vm_stat + sysctl")
    return sample_memory(clock=lambda: t, read=lambda: system)


def test_the_governor_acts_on_what_macos_reports() -> None:
    config = GovernorConfig()
    # Recorded at the same moment on the same Mac: 80% used by Activity Monitor's count, level 2.
    swapping = _mac_sample(
        "vm_stat-m4-24gb-swapping-b.txt",
        M4,
        _sysctl_line("sysctl-m4-24gb-swapping-b.txt", macos_memory.PRESSURE_SYSCTL),
    )
    assert classify_pressure(swapping, "normal", config) == "high"
    # A healthy Mac at 38% used: normal, unless macOS itself says otherwise (our thresholds are second).
    healthy = _mac_sample("vm_stat-macmini-32gb-healthy.txt", MINI, "1")
    assert healthy.used_percent < 45
    assert classify_pressure(healthy, "normal", config) == "normal"
    warned = _mac_sample("vm_stat-macmini-32gb-healthy.txt", MINI, "2")
    assert classify_pressure(warned, "normal", config) == "high"
    assert (
        classify_pressure(_mac_sample("vm_stat-macmini-32gb-healthy.txt", MINI, "4"), "normal", config)
        == "critical"
    )


def _governor() -> MemoryGovernor:
    rungs = [RungOption("q4_k_m", 4 * GB), RungOption("q8_0", 8 * GB)]
    return MemoryGovernor(GovernorConfig(min_dwell_s=5.0), rungs, current_rung="q8_0")


def test_critical_by_the_kernels_word_counts_at_once_and_says_so() -> None:
    governor = _governor()
    governor.observe(_mac_sample("vm_stat-macmini-32gb-healthy.txt", MINI, "1", t=0.0))
    events = governor.observe(_mac_sample("vm_stat-macmini-32gb-healthy.txt", MINI, "4", t=1.0))
    change = next(e for e in events if isinstance(e, LevelChange))
    assert change.to_level == "critical"
    decision = next(e for e in events if isinstance(e, Decision))
    assert decision.to_rung == "q4_k_m"
    assert "macOS reports critical pressure" in decision.reason
    # A warning must last the dwell time, as any new level does.
    governor = _governor()
    governor.observe(_mac_sample("vm_stat-macmini-32gb-healthy.txt", MINI, "1", t=0.0))
    assert governor.observe(_mac_sample("vm_stat-macmini-32gb-healthy.txt", MINI, "2", t=1.0)) == []
    later = governor.observe(_mac_sample("vm_stat-macmini-32gb-healthy.txt", MINI, "2", t=6.5))
    assert any(isinstance(e, LevelChange) and e.to_level == "high" for e in later)


def _stub_tool(folder: Path, name: str, text: str, code: int = 0) -> str:
    (folder / f"{name}.out").write_text(text, encoding="utf-8")
    tool = folder / name
    tool.write_text(f"#!/bin/sh\ncat '{folder / (name + '.out')}'\nexit {code}\n", encoding="utf-8")
    tool.chmod(0o755)
    return str(tool)


def test_the_fit_budget_on_a_mac_reads_the_systems_tools(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        macos_memory, "VM_STAT", _stub_tool(tmp_path, "vm_stat", _recorded("vm_stat-m4-24gb-swapping.txt"))
    )
    monkeypatch.setattr(macos_memory, "SYSCTL", _stub_tool(tmp_path, "sysctl", "2\n"))
    monkeypatch.setattr("reflexia.core.memory.monitor.sys.platform", "darwin")
    memory = read_system_memory()
    vm = parse_vm_stat(_recorded("vm_stat-m4-24gb-swapping.txt"))
    assert memory.available_bytes == vm.available_bytes(memory.total_bytes)
    assert memory.system_pressure == "high" and memory.source == "vm_stat + sysctl"
    budget = MemoryBudget.from_system(load_settings().settings.memory)
    assert budget.available_bytes == memory.available_bytes


def test_a_mac_whose_tools_fail_falls_back_to_psutil_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(macos_memory, "VM_STAT", str(tmp_path / "missing"))
    monkeypatch.setattr("reflexia.core.memory.monitor._warned", [])
    with caplog.at_level(logging.WARNING, logger="reflexia.core.memory.monitor"):
        first, second = read_system_memory("darwin"), read_system_memory("darwin")
    assert first.source == second.source == "psutil" and first.system_pressure is None
    assert [r.getMessage() for r in caplog.records].count(caplog.records[0].getMessage()) == 1
    assert "using psutil's figure" in caplog.records[0].getMessage()


def test_linux_keeps_psutils_figure() -> None:
    memory = read_system_memory("linux")
    assert memory.source == "psutil" and memory.system_pressure is None and memory.available_bytes > 0
