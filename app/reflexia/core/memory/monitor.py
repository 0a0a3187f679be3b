"""One look at memory: the system's and this process's, as a plain value.

The governor's timer takes a sample about once a second off the GUI thread;
:class:`MemorySample` is frozen so it can cross threads and sit in events.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import psutil

from reflexia.core.units import GB, MB


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
    """

    time_s: float
    total_bytes: int
    available_bytes: int
    used_percent: float
    swap_used_percent: float = 0.0
    process_rss_bytes: int = 0

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
    process: psutil.Process | None = None, *, clock: Callable[[], float] = time.monotonic
) -> MemorySample:
    """Take one sample of system and process memory.

    Args:
        process: The process whose resident memory is reported; this one when None.
            Callers sampling every second pass one they keep, to skip the lookup.
        clock: Source of ``time_s``; monotonic so suspend or clock changes cannot
            make dwell and recovery times run backwards.

    Returns:
        The sample.
    """
    virtual = psutil.virtual_memory()
    swap = psutil.swap_memory()
    rss = (process if process is not None else psutil.Process()).memory_info().rss
    return MemorySample(
        time_s=float(clock()),
        total_bytes=int(virtual.total),
        available_bytes=int(virtual.available),
        used_percent=float(virtual.percent),
        swap_used_percent=float(swap.percent),
        process_rss_bytes=int(rss),
    )
