"""Sub-commands about the model library and memory: models, governor, auto-quant.

Kept apart from ``cli.py`` so each module stays small; the flags are defined
in ``cli.py`` with the others (they are one contract).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

from reflexia.core.config.settings import Settings, load_settings
from reflexia.core.engine.values import ModelRef
from reflexia.core.errors import ReflexiaError
from reflexia.core.memory.estimate import MemoryBudget, check_fit
from reflexia.core.memory.governor import Decision, GovernorConfig, MemoryGovernor, RungOption
from reflexia.core.memory.monitor import sample_memory
from reflexia.core.memory.rung_report import family_report, largest_fitting_rung, rung_options
from reflexia.core.models.catalog import Catalog, ModelFamily, scan_catalog
from reflexia.core.models.gguf_file import GGUFInfo, read_gguf
from reflexia.core.units import MB, human_size, mb_rounded_up


class LibraryError(ReflexiaError):
    """A model family could not be found or used."""


def _catalog(settings: Settings, extra: Path | None = None) -> Catalog:
    folders = [settings.models_dir()]
    if extra is not None and extra.exists():
        folders.append(extra.parent if extra.is_file() else extra)
    return scan_catalog(folders)


def find_family(settings: Settings, path_or_name: str) -> ModelFamily:
    """The family a path or name refers to (its folder is scanned too)."""
    as_path = Path(path_or_name).expanduser()
    if as_path.is_file():
        read_gguf(as_path)  # a specific message for a bad file
    family = _catalog(settings, as_path if as_path.exists() else None).find(path_or_name)
    if family is None:
        raise LibraryError(f"no model family matches {path_or_name!r}: try `reflexia models`")
    return family


def fit_fields(info: GGUFInfo, settings: Settings) -> dict[str, object]:
    """``estimate_mb`` and ``fit`` of one file at the configured context (for inspect --json)."""
    budget = MemoryBudget.from_system(settings.memory)
    fit = check_fit(
        info,
        settings.model.context_length,
        budget,
        gpu_layers=settings.model.gpu_layers,
        batch_size=settings.model.batch_size,
    )
    return {
        "estimate_mb": mb_rounded_up(fit.estimate.total_bytes),
        "fit": fit.verdict,
        "max_context": fit.max_context,
    }


def fitting_context(
    path: Path, settings: Settings, *, load_anyway: bool = False, budget: MemoryBudget | None = None
) -> int:
    """The context to load ``path`` with so that it fits memory now (shorter than configured if need be).

    Raises:
        LibraryError: the model does not fit even at the shortest context (unless ``load_anyway``);
            the message names the largest rung of its family that would fit.
    """
    context = settings.model.context_length
    info = read_gguf(path)
    budget = budget or MemoryBudget.from_system(settings.memory)
    model = settings.model
    fit = check_fit(info, context, budget, gpu_layers=model.gpu_layers, batch_size=model.batch_size)
    if fit.verdict == "shorter_context":
        return fit.max_context
    if fit.verdict == "fits" or load_anyway:
        return context
    family = _catalog(settings, path).find(path)
    reports = (
        family_report(family, context, budget, gpu_layers=model.gpu_layers, batch_size=model.batch_size)
        if family
        else []
    )
    best = largest_fitting_rung(reports)
    advice = f"; the largest rung that fits is {best}" if best else ""
    raise LibraryError(
        f"{path.name} is too large for this machine now: {fit.message}{advice} (--load-anyway to try)"
    )


def resolve_model(text: str, settings: Settings) -> ModelRef:
    """A model named on the command line: a GGUF path, ``ollama:NAME``, or a name from the library.

    A family name picks its largest rung that fits now; a file's own name picks that file.

    Raises:
        LibraryError: nothing in the library has that name.
    """
    if text.startswith("ollama:"):
        return ModelRef.server("ollama", text.removeprefix("ollama:"))
    path = Path(text).expanduser()
    if path.exists() or path.suffix.lower() == ".gguf" or "/" in text or "\\" in text:
        return ModelRef.file(path)  # a missing or broken file gets its specific error when loaded
    catalog = _catalog(settings)
    family = catalog.find(text)
    if family is None:
        raise LibraryError(f"no model named {text!r} in the library: try `reflexia models`, or give a path")
    named = [f for f in family.files if f.display_name.casefold() == text.casefold()]
    if named:
        return ModelRef.file(named[0].path)
    model = settings.model
    budget = MemoryBudget.from_system(settings.memory)
    reports = family_report(
        family, model.context_length, budget, gpu_layers=model.gpu_layers, batch_size=model.batch_size
    )
    best = largest_fitting_rung(reports) or family.rungs()[0]
    chosen = family.file_for(best)
    assert chosen is not None  # largest_fitting_rung only names rungs on disk
    return ModelRef.file(chosen.path)


def cmd_models(args: argparse.Namespace) -> int:
    """`reflexia models [--json]`."""
    settings = load_settings().settings
    catalog = _catalog(settings)
    budget = MemoryBudget.from_system(settings.memory)
    context = settings.model.context_length
    reports = {
        family.key: family_report(
            family,
            context,
            budget,
            gpu_layers=settings.model.gpu_layers,
            batch_size=settings.model.batch_size,
        )
        for family in catalog.families
    }
    if args.json:
        families = [
            {
                "key": family.key,
                "name": family.display_name,
                "architecture": family.architecture,
                "parameters": family.parameter_count,
                "rungs": [
                    r.to_json_dict() | {"source": _source(family, r.path)}
                    for r in reports[family.key]
                    if r.exists
                ],
                "can_create": [r.to_json_dict() for r in reports[family.key] if not r.exists],
            }
            for family in catalog.families
        ]
        unreadable = [{"path": str(f.path), "reason": f.error} for f in catalog.unreadable]
        summary = {
            "context_length": context,
            "budget_mb": budget.usable_bytes() // MB,
            "families": families,
            "unreadable": unreadable,
        }
        print(json.dumps(summary))
        return 0
    if not catalog.families and not catalog.unreadable:
        print(f"no models in {settings.models_dir()} (nor in Ollama's or LM Studio's folders)")
    for family in catalog.families:
        print(f"{family.display_name}  ({family.architecture}, {family.parameter_count:,} parameters)")
        for report in reports[family.key]:
            size = human_size(report.file_size) if report.exists else "not made yet"
            print(f"  {report.quantization:<8} {size:>12}  needs ~{report.estimate_mb:,} MB  {report.fit}")
    for entry in catalog.unreadable:
        print(f"unreadable: {entry.error}")
    return 0


def _source(family: ModelFamily, path: Path | None) -> str:
    return next((f.source for f in family.files if f.path == path), "models_dir")


def governor_for(
    family: ModelFamily, settings: Settings, *, make_rungs: bool | None = None
) -> MemoryGovernor:
    """A governor over ``family``'s rungs, re-estimating them against the live budget.

    ``make_rungs`` overrides the setting: ``--auto-quant`` is the user asking for a made rung.
    """

    def options() -> list[RungOption]:
        budget = MemoryBudget.from_system(settings.memory)
        return rung_options(
            family_report(
                family,
                settings.model.context_length,
                budget,
                gpu_layers=settings.model.gpu_layers,
                batch_size=settings.model.batch_size,
            )
        )

    config = GovernorConfig.from_settings(settings.memory)
    if make_rungs is not None:
        config = replace(config, make_rungs=make_rungs)
    return MemoryGovernor(config, options)


def cmd_governor(args: argparse.Namespace) -> int:
    """`reflexia governor --family PATH_OR_NAME --watch SECONDS [--json]`."""
    settings = load_settings().settings
    family = find_family(settings, args.family)
    governor = governor_for(family, settings)
    deadline = time.monotonic() + args.watch
    while True:
        for event in governor.observe(sample_memory()):
            record = event.to_json_dict()
            if args.json:
                print(json.dumps(record), flush=True)
            else:
                print(
                    f"{record['event']:<8} {record['from']} -> {record['to']}: {record['reason']}", flush=True
                )
        if time.monotonic() >= deadline:
            return 0
        time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))


def auto_quant_model(path: Path, settings: Settings) -> tuple[Path, Decision | None]:
    """The rung of ``path``'s family the governor would load now (quantizing it if needed)."""
    from reflexia.core.models.quantizer import quantize_model

    family = find_family(settings, str(path))
    governor = governor_for(family, settings, make_rungs=True)
    decision = next((e for e in governor.observe(sample_memory()) if isinstance(e, Decision)), None)
    if decision is None or decision.to_rung is None:
        return path, decision
    chosen = family.file_for(decision.to_rung)
    if chosen is not None:
        return chosen.path, decision
    source = family.best_source()
    if source is None:
        return path, decision
    return quantize_model(source.path, decision.to_rung), decision
