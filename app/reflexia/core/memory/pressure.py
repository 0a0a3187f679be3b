"""Memory pressure levels, as the governor and the system's own reading share them."""

from __future__ import annotations

from typing import Final, Literal

PressureLevel = Literal["normal", "high", "critical"]

#: Order of the levels: a higher number is more pressure.
SEVERITY: Final[dict[PressureLevel, int]] = {"normal": 0, "high": 1, "critical": 2}
