"""A small document library in which one fact lives in exactly one file (grounding tests)."""

from __future__ import annotations

from pathlib import Path

FACT_FILE = "maintenance.md"
QUESTION = "How tight must the Zorblax valve be?"

_FILES = {
    FACT_FILE: (
        "# Pump maintenance\n\n## Valves\n"
        "The Zorblax valve on pump 7 must be tightened to 42 newton-metres. Check it every Tuesday.\n\n"
        "## Filters\nReplace the intake filter every three months, or sooner when the pressure gauge "
        "drops below 2 bar.\n"
    ),
    "holidays.txt": (
        "Office holidays\n\nThe office is closed on the first Monday of August for the summer fair. "
        "Staff who work that day get another day off in September.\n"
    ),
    "recipes.md": (
        "# Bread\n\nMix 500 g of flour, 10 g of salt, 7 g of yeast and 350 ml of warm water. "
        "Knead for ten minutes and let it rise for an hour.\n"
    ),
}


def write_grounding_docs(folder: Path) -> Path:
    """Write the library into ``folder`` (created) and return it."""
    folder.mkdir(parents=True)
    for name, text in _FILES.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder
