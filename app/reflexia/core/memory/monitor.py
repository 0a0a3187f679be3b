"""One look at memory: the system's and this process's, as a plain value.

The governor's timer takes a sample about once a second off the GUI thread;
:class:`MemorySample` is frozen so it can cross threads and sit in events. Every reading of the
system's memory (samples, fit budgets, ``reflexia doctor``) goes through :func:`read_system_memory`,
which on macOS reads memory as macOS counts it (``macos_memory``) instead of psutil's figure.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import psutil

from reflexia.core.memory.macos_memory import MacMemoryError, read_mac_memory
from reflexia.core.memory.pressure import PressureLevel
from reflexia.core.units import GB, MB

log = logging.getLogger(__name__)
_warned: list[str] = []  # a macOS reading that failed is logged once, then psutil's figure is used


@dataclass(frozen=True)
class SystemMemory:
    """Physical memory, what can be had without swapping, and the system's own pressure level.

    Attributes:
        total_bytes: Physical memory.
        available_bytes: Memory a program can still get without pushing others to swap.
        system_pressure: The level the operating system reports (macOS); None where it has none.
        source: Where the figures came from, for ``reflexia doctor`` ("psutil", "vm_stat + sysctl").
    """

    total_bytes: int
    available_bytes: int
    system_pressure: PressureLevel | None = None
    source: str = "psutil"

    @property
    def used_percent(self) -> float:
        """Share of physical memory that is not available."""
        return 100.0 * (1 - self.available_bytes / self.total_bytes) if self.total_bytes else 0.0


def read_system_memory(platform: str | None = None) -> SystemMemory:
    """The system's memory now: on macOS as macOS counts it, elsewhere psutil's ``available``."""
    virtual = psutil.virtual_memory()
    total = int(virtual.total)
    if (platform or sys.platform) == "darwin":
        try:
            mac = read_mac_memory(total)
        except MacMemoryError as error:
            if not _warned:
                _warned.append(str(error))
                log.warning("reading memory as macOS counts it failed (%s): using psutil's figure", error)
        else:
            return SystemMemory(total, mac.available_bytes, mac.pressure, "vm_stat + sysctl")
    return SystemMemory(total, int(virtual.available))


@dataclass(frozen=True)
class MemorySample:
    """System and process memory at one moment.

    Attributes:
        time_s: When it was taken, on the monotonic clock (seconds).
        total_bytes: Physical memory.
        available_bytes: Memory a program can still get without pushing others to swap.
        used_percent: Share of physical memory that is not available.
        swap_used_percent: Share of swap in use (0 when there is no swap).
        process_rss_bytes: This process's resident memory, where the loaded model lives.
        system_pressure: The operating system's own level (macOS); None where it reports none.
    """

    time_s: float
    total_bytes: int
    available_bytes: int
    used_percent: float
    swap_used_percent: float = 0.0
    process_rss_bytes: int = 0
    system_pressure: PressureLevel | None = None

    @property
    def used_bytes(self) -> int:
        """Physical memory that is not available."""
        return max(0, self.total_bytes - self.available_bytes)

    @property
    def total_mb(self) -> float:
        """Physical memory in MiB."""
        return self.total_bytes / MB

    @property
    def available_mb(self) -> float:
        """Available memory in MiB."""
        return self.available_bytes / MB

    @property
    def available_gb(self) -> float:
        """Available memory in GiB, as the user reads it in reasons."""
        return self.available_bytes / GB

    @property
    def process_rss_mb(self) -> float:
        """This process's resident memory in MiB."""
        return self.process_rss_bytes / MB


def sample_memory(
    process: psutil.Process | None = None,
    *,
    clock: Callable[[], float] = time.monotonic,
    read: Callable[[], SystemMemory] = read_system_memory,
) -> MemorySample:
    """Take one sample of system and process memory.

    Args:
        process: The process whose resident memory is reported; this one when None.
            Callers sampling every second pass one they keep, to skip the lookup.
        clock: Source of ``time_s``; monotonic so suspend or clock changes cannot
            make dwell and recovery times run backwards.
        read: The system's memory now (a recorded reading in tests).

    Returns:
        The sample.
    """
    system = read()
    swap = psutil.swap_memory()
    rss = (process if process is not None else psutil.Process()).memory_info().rss
    return MemorySample(
        time_s=float(clock()),
        total_bytes=system.total_bytes,
        available_bytes=system.available_bytes,
        used_percent=system.used_percent,
        swap_used_percent=float(swap.percent),
        process_rss_bytes=int(rss),
        system_pressure=system.system_pressure,
    )
