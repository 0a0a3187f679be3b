"""How `reflexia chat` picks the context to load with against a memory budget (deterministic budgets)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reflexia.cli.library import LibraryError, fitting_context
from reflexia.core.config.settings import load_settings
from reflexia.core.memory.estimate import MemoryBudget, estimate_memory
from reflexia.core.models.gguf_file import read_gguf

GIB = 1024**3


def _budget(usable: int) -> MemoryBudget:
    return MemoryBudget(
        total_bytes=64 * GIB, available_bytes=usable, max_memory_percent=100, min_free_bytes=0
    )


def test_a_roomy_budget_keeps_the_configured_context(tiny_f16_model: Path) -> None:
    settings = load_settings().settings
    context = fitting_context(tiny_f16_model, settings, budget=_budget(8 * GIB))
    assert context == settings.model.context_length


def test_a_tight_budget_gets_the_longest_context_that_fits(tiny_f16_model: Path) -> None:
    settings = load_settings().settings
    info = read_gguf(tiny_f16_model)
    room = estimate_memory(info, 1024).total_bytes + 1
    context = fitting_context(tiny_f16_model, settings, budget=_budget(room))
    assert context == 1024
    assert estimate_memory(info, context).total_bytes <= room


def test_no_room_is_refused_naming_the_fix_unless_loading_anyway(tiny_f16_model: Path) -> None:
    settings = load_settings().settings
    with pytest.raises(LibraryError, match=r"too large for this machine now.*--load-anyway"):
        fitting_context(tiny_f16_model, settings, budget=_budget(1024))
    anyway = fitting_context(tiny_f16_model, settings, budget=_budget(1024), load_anyway=True)
    assert anyway == settings.model.context_length
