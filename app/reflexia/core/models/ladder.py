"""The quantization ladder: the rungs the app offers, and what counts as unquantized.

The single definition used by the settings, the catalog, the quantizer, the
estimates and the UI.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

#: A rung of the ladder, lowest precision first.
Rung = Literal["q4_0", "q4_k_m", "q5_k_m", "q8_0", "f16"]

#: The quantizations the app offers to produce, lowest precision first.
LADDER: Final[tuple[str, ...]] = get_args(Rung)

#: File types the quantizer makes rungs from.
UNQUANTIZED: Final = frozenset({"f16", "bf16", "f32"})
