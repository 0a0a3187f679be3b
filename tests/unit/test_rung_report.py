"""Rung reports: every rung of a family with its estimate and verdict, made or makeable."""

from __future__ import annotations

import shutil
from pathlib import Path

from reflexia.core.memory.estimate import MemoryBudget
from reflexia.core.memory.rung_report import family_report, rung_options
from reflexia.core.models.catalog import ModelFamily, scan_catalog

GIB = 1024**3


def _budget(usable: int) -> MemoryBudget:
    return MemoryBudget(
        total_bytes=64 * GIB, available_bytes=usable, max_memory_percent=100, min_free_bytes=0
    )


def _family(model_dir: Path, tmp_path: Path, *names: str) -> ModelFamily:
    for name in names:
        shutil.copy(model_dir / name, tmp_path / name)
    (family,) = scan_catalog([tmp_path], ollama_dir=None, lmstudio_dirs=None).families
    return family


def test_made_and_makeable_rungs_in_precision_order(model_dir: Path, tmp_path: Path) -> None:
    family = _family(model_dir, tmp_path, "tiny-f16.gguf", "tiny-q4_k_m.gguf")
    reports = family_report(family, 2048, _budget(8 * GIB))
    assert [r.quantization for r in reports] == ["q4_0", "q4_k_m", "q5_k_m", "q8_0", "f16"]
    assert [r.exists for r in reports] == [False, True, False, False, True]
    sizes = [r.estimate.weights_bytes for r in reports]
    assert sizes == sorted(sizes)  # lower precision, smaller weights
    assert all(r.fit == "fits" for r in reports)
    options = rung_options(reports)
    assert [(o.rung, o.exists, o.can_create) for o in options][:2] == [
        ("q4_0", False, True),
        ("q4_k_m", True, False),
    ]
    assert options[-1].estimate_bytes == reports[-1].estimate.total_bytes


def test_a_quantized_best_file_makes_nothing(model_dir: Path, tmp_path: Path) -> None:
    family = _family(model_dir, tmp_path, "tiny-q4_k_m.gguf")
    reports = family_report(family, 2048, _budget(8 * GIB))
    assert [r.quantization for r in reports] == ["q4_k_m"]


def test_verdicts_follow_the_budget(model_dir: Path, tmp_path: Path) -> None:
    family = _family(model_dir, tmp_path, "tiny-f16.gguf", "tiny-q4_k_m.gguf")
    roomy = {r.quantization: r for r in family_report(family, 2048, _budget(8 * GIB))}
    tight = family_report(family, 2048, _budget(roomy["q4_k_m"].estimate.total_bytes))
    verdicts = {r.quantization: r.fit for r in tight if r.exists}
    assert verdicts == {"q4_k_m": "fits", "f16": "shorter_context"}
    assert {r.fit for r in family_report(family, 2048, _budget(1024))} == {"too_large"}
    payload = tight[1].to_json_dict()
    assert payload["estimate_mb"] > 0 and payload["fit"] == "fits" and payload["exists"] is True
