"""What each rung of a model family would cost, and whether it fits now.

Joins the catalog (which files exist), the memory estimate (what each needs)
and the budget (what the machine allows) into one report per rung, used by
the model picker, ``reflexia models`` and the governor's options.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from reflexia.core.memory.estimate import FitVerdict, MemoryBudget, MemoryEstimate, check_fit, estimate_memory
from reflexia.core.memory.governor import RungOption
from reflexia.core.models.catalog import ModelFamily, nominal_bits_per_weight, precision_rank
from reflexia.core.models.ladder import LADDER, UNQUANTIZED
from reflexia.core.units import mb_rounded_up


@dataclass(frozen=True)
class RungReport:
    """One rung of a family: on disk or creatable, its estimate and its fit verdict."""

    quantization: str
    path: Path | None  # None: not on disk yet, the quantizer can make it
    file_size: int  # 0 when not on disk
    estimate: MemoryEstimate
    fit: FitVerdict
    max_context: int
    message: str
    gpu_layers: int | None = None  # fewer layers than configured fit the GPU's working set

    @property
    def exists(self) -> bool:
        """True when the rung's file is on disk."""
        return self.path is not None

    @property
    def estimate_mb(self) -> int:
        """The estimate in MB, rounded up."""
        return mb_rounded_up(self.estimate.total_bytes)

    def to_json_dict(self) -> dict[str, object]:
        """The JSON form used by ``reflexia models``."""
        return {
            "quantization": self.quantization,
            "path": str(self.path) if self.path else None,
            "exists": self.exists,
            "file_size": self.file_size,
            "estimate_mb": self.estimate_mb,
            "fit": self.fit,
            "max_context": self.max_context,
            "message": self.message,
            "gpu_layers": self.gpu_layers,
        }


def family_report(
    family: ModelFamily,
    context_length: int,
    budget: MemoryBudget,
    *,
    already_loaded_bytes: int = 0,
    include_creatable: bool = True,
    gpu_layers: int = 0,
    batch_size: int = 512,
) -> list[RungReport]:
    """Every rung of ``family``, lowest precision first, with its estimate and verdict.

    ``gpu_layers`` is the setting (-1: all); only a discrete-GPU build keeps offloaded
    weights out of system memory, which the estimate accounts for.
    """
    reports: list[RungReport] = []
    for entry in family.files:
        if entry.info is None:
            continue
        fit = check_fit(
            entry.info,
            context_length,
            budget,
            already_loaded_bytes=already_loaded_bytes,
            gpu_layers=gpu_layers,
            batch_size=batch_size,
        )
        reports.append(
            RungReport(
                entry.quantization or entry.info.quantization,
                entry.path,
                entry.info.file_size,
                fit.estimate,
                fit.verdict,
                fit.max_context,
                fit.message,
                fit.gpu_layers,
            )
        )
    source = family.best_source()
    quantizable = source is not None and source.info is not None and source.info.quantization in UNQUANTIZED
    if include_creatable and quantizable and source is not None and source.info is not None:
        source_bits = nominal_bits_per_weight(source.info.quantization)
        for rung in family.missing_ladder_rungs():
            rung_bits = nominal_bits_per_weight(rung)
            if not source_bits or not rung_bits:
                continue
            # A rung not made yet: the source's estimate with its weights scaled by bits per weight.
            estimate = estimate_memory(
                source.info, context_length, gpu_layers=gpu_layers, batch_size=batch_size
            )
            estimate = replace(estimate, weights_bytes=int(estimate.weights_bytes * rung_bits / source_bits))
            usable = budget.usable_bytes(already_loaded_bytes)
            verdict: FitVerdict = "fits" if estimate.total_bytes <= usable else "too_large"
            message = f"can be made from {source.path.name}; " + (
                "would fit" if verdict == "fits" else "would not fit at this context"
            )
            reports.append(RungReport(rung, None, 0, estimate, verdict, 0, message))
    reports.sort(key=lambda report: precision_rank(report.quantization))
    return reports


def largest_fitting_rung(reports: list[RungReport]) -> str | None:
    """The highest-precision rung on disk that fits (at least with a shorter context), if any."""
    fitting = [r.quantization for r in sorted(reports, key=lambda r: precision_rank(r.quantization))
               if r.exists and r.fit != "too_large"]  # fmt: skip
    return fitting[-1] if fitting else None


def rung_options(reports: list[RungReport]) -> list[RungOption]:
    """The governor's view of the ladder rungs among ``reports``, lowest precision first."""
    return [
        RungOption(
            report.quantization,
            report.estimate.total_bytes,
            exists=report.exists,
            can_create=not report.exists,
        )
        for report in reports
        if report.quantization in LADDER
    ]
