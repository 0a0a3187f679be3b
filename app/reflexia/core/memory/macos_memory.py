"""Memory as macOS itself counts it, not as psutil does.

On macOS psutil's ``available`` is free + inactive pages only, so a healthy Mac reads 80% used or
more: an 8B q4 model showed "too large" on a 16 GB Mac and the governor saw high pressure at rest.
Two readings replace it there:

* **The kernel's pressure level**, ``kern.memorystatus_vm_pressure_level``: 1 normal, 2 warning,
  4 critical, the signal macOS itself acts on (the memory-pressure graph of Activity Monitor).
* **Memory that can be had without swapping**, as Activity Monitor counts it: physical memory less
  what is *used*, used being app memory (anonymous pages that are not purgeable) + wired memory +
  what the compressor occupies. Cached files (file-backed pages) and purgeable memory are given up
  by the kernel on demand, so they count as available. ``vm_stat`` prints these counts (it reads
  ``host_statistics64``); its "Pages free" already excludes speculative pages, which are
  file-backed, so nothing is counted twice.

Both are read by running the system's own tools (``/usr/sbin/sysctl``, ``/usr/bin/vm_stat``):
plain text, parsed here and tested with outputs recorded on real Macs (tests/data/macos).
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from typing import Final

from reflexia.core.errors import ReflexiaError
from reflexia.core.memory.pressure import PressureLevel

VM_STAT: Final = "/usr/bin/vm_stat"
SYSCTL: Final = "/usr/sbin/sysctl"
PRESSURE_SYSCTL: Final = "kern.memorystatus_vm_pressure_level"
#: The kernel's levels (``kVMPressureNormal`` 1, ``Warning`` 2, ``Critical`` 4) as the governor's.
_KERNEL_LEVELS: Final[dict[int, PressureLevel]] = {1: "normal", 2: "high", 4: "critical"}
#: How macOS names them, for the reasons the user reads.
MACOS_NAMES: Final[dict[PressureLevel, str]] = {"normal": "normal", "high": "warning", "critical": "critical"}
_HEADER = re.compile(r"page size of (\d+) bytes")
_LINE = re.compile(r'^"?([^":]+)"?:\s+(\d+)\.?\s*$')
_NEEDED: Final = ("Anonymous pages", "Pages purgeable", "Pages wired down", "Pages occupied by compressor")
_TIMEOUT_S: Final = 2.0


class MacMemoryError(ReflexiaError):
    """The system's memory tools could not be run or said something we cannot read."""


@dataclass(frozen=True)
class VmStat:
    """The page counts ``vm_stat`` printed, by its own labels ("Pages free", "Anonymous pages")."""

    page_size: int
    pages: dict[str, int]

    def bytes_of(self, label: str) -> int:
        """The count under ``label`` in bytes."""
        return self.pages[label] * self.page_size

    def used_bytes(self) -> int:
        """Activity Monitor's "Memory Used": app memory + wired + compressed."""
        app = max(0, self.pages["Anonymous pages"] - self.pages["Pages purgeable"])
        wired, compressed = self.pages["Pages wired down"], self.pages["Pages occupied by compressor"]
        return (app + wired + compressed) * self.page_size

    def available_bytes(self, total_bytes: int) -> int:
        """What can be had without swapping: everything that is not used."""
        return max(0, total_bytes - self.used_bytes())


def parse_vm_stat(text: str) -> VmStat:
    """Read ``vm_stat``'s output (any macOS since 10.9; column widths differ between releases).

    Raises:
        MacMemoryError: no page size, or a count the reading needs is missing.
    """
    header = _HEADER.search(text)
    if header is None:
        raise MacMemoryError("vm_stat printed no page size")
    matches = (_LINE.match(line.strip()) for line in text.splitlines())
    pages = {m.group(1).strip(): int(m.group(2)) for m in matches if m}
    missing = [label for label in _NEEDED if label not in pages]
    if missing:
        raise MacMemoryError(f"vm_stat printed no {', '.join(missing)}")
    return VmStat(int(header.group(1)), pages)


def parse_pressure_level(text: str) -> PressureLevel:
    """Read ``sysctl kern.memorystatus_vm_pressure_level`` (with or without its name before the value).

    Raises:
        MacMemoryError: not one of the kernel's levels.
    """
    value = text.strip().rsplit(":", 1)[-1].strip()
    try:
        return _KERNEL_LEVELS[int(value)]
    except (ValueError, KeyError):
        raise MacMemoryError(f"{PRESSURE_SYSCTL} is {value!r}, not 1, 2 or 4") from None


def _run(command: list[str]) -> str:
    try:
        # close_fds=False lets Python use posix_spawn on macOS: no fork of a process holding a model.
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=_TIMEOUT_S, check=True, close_fds=False
        )
    except (OSError, subprocess.SubprocessError) as error:
        raise MacMemoryError(f"{command[0]} failed: {error}") from error
    return done.stdout


@dataclass(frozen=True)
class MacMemory:
    """One reading of memory on macOS: what can be had without swapping, and the kernel's level."""

    available_bytes: int
    pressure: PressureLevel


def read_mac_memory(total_bytes: int) -> MacMemory:
    """Run ``vm_stat`` and ``sysctl`` (macOS only; about 5 ms, off the GUI thread).

    Raises:
        MacMemoryError: either tool failed or printed something unreadable.
    """
    vm = parse_vm_stat(_run([VM_STAT]))
    level = parse_pressure_level(_run([SYSCTL, "-n", PRESSURE_SYSCTL]))
    return MacMemory(vm.available_bytes(total_bytes), level)
