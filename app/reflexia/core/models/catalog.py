"""The model library: every GGUF file we can find, grouped into model families.

A family is one model at several quantizations (the "rungs" of the ladder).
Files come from the models folders, read-only from LM Studio's folders, and
read-only from Ollama's store through its manifests. Scanning never raises: a
file we cannot read is listed in :attr:`Catalog.unreadable` with the reason.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from reflexia.core.errors import ModelFileError
from reflexia.core.models.files import find_model_files
from reflexia.core.models.gguf_file import GGUFInfo, read_gguf
from reflexia.core.models.ladder import LADDER
from reflexia.core.models.naming import display_name, strip_quantization_suffix

__all__ = [
    "Catalog",
    "ModelFamily",
    "ModelFile",
    "ModelSource",
    "default_lmstudio_dirs",
    "default_ollama_dir",
    "nominal_bits_per_weight",
    "precision_key",
    "precision_rank",
    "scan_catalog",
    "strip_quantization_suffix",
]

log = logging.getLogger(__name__)


ModelSource = Literal["models_dir", "ollama", "lmstudio"]

# Nominal bits per weight of llama.cpp's file types and tensor types. Single types are
# exact (block bytes * 8 / block size); the k-quant mixes use llama.cpp's published
# figures for a 7-8B model, which is all a ranking needs.
_BITS_PER_WEIGHT: Final[dict[str, float]] = {
    "iq1_s": 1.56, "iq1_m": 1.75, "tq1_0": 1.69, "iq2_xxs": 2.06, "tq2_0": 2.06,
    "iq2_xs": 2.31, "iq2_s": 2.5, "iq2_m": 2.7, "q2_k_s": 2.96, "q2_k": 3.0,
    "iq3_xxs": 3.06, "iq3_xs": 3.3, "iq3_s": 3.44, "q3_k_s": 3.5, "iq3_m": 3.66,
    "q3_k_m": 3.91, "q3_k": 3.91, "iq4_xs": 4.25, "mxfp4_moe": 4.25, "mxfp4": 4.25,
    "q3_k_l": 4.27, "q4_0": 4.5, "iq4_nl": 4.5, "q4_k_s": 4.58, "q4_k_m": 4.89,
    "q4_k": 4.89, "q4_1": 5.0, "q5_0": 5.5, "q5_k_s": 5.54, "q5_k_m": 5.7, "q5_k": 5.7,
    "q5_1": 6.0, "q6_k": 6.56, "q8_0": 8.5, "q8_1": 9.0, "q8_k": 9.13,
    "bf16": 16.0, "f16": 16.0, "f32": 32.0, "f64": 64.0,
}  # fmt: skip


def nominal_bits_per_weight(quantization: str) -> float | None:
    """Bits per weight of a quantization label (``q4_k_m``: 4.89); None if llama.cpp has no such label."""
    return _BITS_PER_WEIGHT.get(quantization.lower())


def precision_rank(quantization: str) -> tuple[float, int, str]:
    """Sort key that orders quantization labels from lowest to highest precision.

    The ladder's rungs come out in ladder order; any other label sorts among
    them by its bits per weight, and labels we do not know sort first.
    """
    label = quantization.lower()
    bits = _BITS_PER_WEIGHT.get(label, 0.0)
    # bf16 and f16 tie on bits; prefer f16, the ladder's top rung, as "higher".
    return bits, 1 if label == "f16" else 0, label


def precision_key(info: GGUFInfo) -> tuple[float, int, str]:
    """Sort key of a file from lowest to highest precision.

    Labels llama.cpp names sort by :func:`precision_rank`; others (a file type
    this ``gguf`` package does not know) by the file's measured bits per weight.
    """
    if info.quantization.lower() in _BITS_PER_WEIGHT:
        return precision_rank(info.quantization)
    measured = sum(info.tensor_type_bytes.values()) * 8 / max(1, info.parameter_count)
    return measured, 0, info.quantization


@dataclass(frozen=True)
class ModelFile:
    """One GGUF file found on disk.

    Attributes:
        path: Where the file is (for Ollama, the blob).
        source: Which store it was found in.
        display_name: What to call it: the file stem, or ``model:tag`` for Ollama.
        info: Its metadata, or None if it could not be read.
        error: Why it could not be read (the :class:`ModelFileError` message).
        read_only: True for files another app manages (Ollama, LM Studio):
            never modify or delete them.
    """

    path: Path
    source: ModelSource
    display_name: str
    info: GGUFInfo | None
    error: str | None = None
    read_only: bool = False

    @property
    def quantization(self) -> str | None:
        """The quantization label, e.g. ``q4_k_m``; None if unreadable."""
        return self.info.quantization if self.info else None

    @property
    def bits_per_weight(self) -> float | None:
        """Measured bits per weight: tensor bytes over parameters; None if unreadable."""
        if self.info is None or self.info.parameter_count == 0:
            return None
        return sum(self.info.tensor_type_bytes.values()) * 8 / self.info.parameter_count

    def precision_key(self) -> tuple[float, int, str]:
        """Sort key from lowest to highest precision; see :func:`precision_key`."""
        return precision_key(self.info) if self.info else (0.0, 0, "")


@dataclass(frozen=True)
class ModelFamily:
    """One model at every quantization found.

    Attributes:
        key: Unique, stable identifier within the catalog, e.g. ``llama-3-8b-instruct``.
        display_name: The model's name as people say it (see ``naming.display_name``).
        architecture: ``general.architecture``, e.g. ``llama``.
        parameter_count: Number of weights.
        files: Its files, from lowest to highest precision.
    """

    key: str
    display_name: str
    architecture: str
    parameter_count: int
    files: tuple[ModelFile, ...]

    def rungs(self) -> tuple[str, ...]:
        """Quantization labels present, from lowest to highest precision, without repeats."""
        return tuple(dict.fromkeys(f.quantization for f in self.files if f.quantization))

    def file_for(self, rung: str) -> ModelFile | None:
        """The file at quantization ``rung``, preferring one the app may modify."""
        matches = [f for f in self.files if f.quantization == rung.lower()]
        return min(matches, key=lambda f: f.read_only, default=None)

    def best_source(self) -> ModelFile | None:
        """The highest-precision file, which the quantizer would quantize from.

        None when even the best file is at or below the ladder's lowest rung:
        there is nothing lower to produce.
        """
        if not self.files:
            return None
        top = self.files[-1].precision_key()
        if top[:2] <= precision_rank(LADDER[0])[:2]:
            return None
        return min((f for f in self.files if f.precision_key() == top), key=lambda f: f.read_only)

    def missing_ladder_rungs(self) -> tuple[str, ...]:
        """Ladder rungs that could be produced: below :meth:`best_source` and absent."""
        source = self.best_source()
        if source is None:
            return ()
        top, present = source.precision_key(), set(self.rungs())
        return tuple(r for r in LADDER if precision_rank(r) < top and r not in present)


@dataclass(frozen=True)
class Catalog:
    """The result of a scan: model families and the files that could not be read."""

    families: tuple[ModelFamily, ...]
    unreadable: tuple[ModelFile, ...]

    def find(self, path_or_name: str | Path) -> ModelFamily | None:
        """The family with this key or display name, or with a file of this name or path."""
        wanted, target = str(path_or_name).casefold(), _resolved(Path(path_or_name).expanduser())
        by_name = [m for m in self.families if wanted in (m.key.casefold(), m.display_name.casefold())]
        by_file = [
            m
            for m in self.families
            if any(f.display_name.casefold() == wanted or _resolved(f.path) == target for f in m.files)
        ]
        return next(iter(by_name + by_file), None)


def default_ollama_dir() -> Path:
    """Where Ollama keeps its models unless ``OLLAMA_MODELS`` says otherwise."""
    configured = os.environ.get("OLLAMA_MODELS")
    return Path(configured).expanduser() if configured else Path.home() / ".ollama" / "models"


def default_lmstudio_dirs() -> tuple[Path, ...]:
    """LM Studio's model folders: the current one and the one older versions used."""
    return Path.home() / ".lmstudio" / "models", Path.home() / ".cache" / "lm-studio" / "models"


def scan_catalog(
    models_dirs: Sequence[Path],
    *,
    ollama_dir: Path | Literal["default"] | None = "default",
    lmstudio_dirs: Sequence[Path] | Literal["default"] | None = "default",
) -> Catalog:
    """Find every GGUF file and group them into families. Never raises.

    Args:
        models_dirs: Folders scanned recursively for ``*.gguf``; the app owns these files.
        ollama_dir: Ollama's store (``manifests/`` and ``blobs/``); ``"default"`` is
            :func:`default_ollama_dir`, None skips Ollama.
        lmstudio_dirs: LM Studio's folders, scanned read-only; ``"default"`` is
            :func:`default_lmstudio_dirs`, None skips them.

    Returns:
        The families, each with its files ordered by precision, and the unreadable files.
    """
    if ollama_dir == "default":
        ollama_dir = default_ollama_dir()
    if lmstudio_dirs == "default":
        lmstudio_dirs = default_lmstudio_dirs()
    seen: set[Path] = set()
    readable: list[ModelFile] = []
    unreadable: list[ModelFile] = []
    candidates = [
        *_folder_files(models_dirs, "models_dir"),
        *_folder_files(lmstudio_dirs or (), "lmstudio"),
        *(_ollama_files(ollama_dir) if ollama_dir is not None else ()),
    ]
    for path, source, store_name, problem in candidates:
        resolved = _resolved(path)
        if resolved in seen:  # a symlink or an overlapping folder: list the file once
            continue
        seen.add(resolved)
        entry = _read(path, source, store_name, problem)
        (readable if entry.info is not None else unreadable).append(entry)
    return Catalog(tuple(_group(readable)), tuple(unreadable))


# (path, source, display name, problem found before reading the file)
_Candidate = tuple[Path, ModelSource, str, str | None]


def _folder_files(folders: Iterable[Path], source: ModelSource) -> Iterator[_Candidate]:
    for folder in folders:
        for path in find_model_files(Path(folder).expanduser()):
            yield path, source, path.stem, None


def _ollama_files(store: Path) -> Iterator[_Candidate]:
    """Model blobs named by Ollama's manifests: ``manifests/<registry>/<namespace>/<model>/<tag>``."""
    manifests = store.expanduser() / "manifests"
    if not manifests.is_dir():
        return
    try:
        found = sorted(p for p in manifests.glob("*/*/*/*") if p.is_file() and not p.name.startswith("."))
    except OSError as exc:
        log.warning("cannot list Ollama manifests in %s: %s", manifests, exc)
        return
    for manifest in found:
        registry, namespace, model, tag = manifest.relative_to(manifests).parts
        # As `ollama list` names them: the default registry and namespace are left out.
        prefix = "" if registry == "registry.ollama.ai" else f"{registry}/"
        prefix += "" if not prefix and namespace == "library" else f"{namespace}/"
        name = f"{prefix}{model}:{tag}"
        digest, problem = _model_digest(manifest)
        if digest is None:
            yield manifest, "ollama", name, problem
        else:
            yield store / "blobs" / digest.replace(":", "-", 1), "ollama", name, None


def _model_digest(manifest: Path) -> tuple[str | None, str | None]:
    """The digest of a manifest's model layer, or None and why not."""
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"unreadable Ollama manifest ({exc})"
    layers = data.get("layers") if isinstance(data, dict) else None
    for layer in layers if isinstance(layers, list) else ():
        if isinstance(layer, dict) and layer.get("mediaType") == "application/vnd.ollama.image.model":
            digest = layer.get("digest")
            if isinstance(digest, str) and re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
                return digest, None
            return None, f"Ollama manifest has an invalid model digest {digest!r}"
    return None, "Ollama manifest lists no model layer"


def _read(path: Path, source: ModelSource, display_name: str, problem: str | None) -> ModelFile:
    info, error = None, f"{path}: {problem}" if problem else None
    if problem is None:
        try:
            info = read_gguf(path)
        except ModelFileError as exc:
            error = str(exc)
        except (OSError, ValueError) as exc:  # defensive: a scan must list, not crash
            error = f"{path}: cannot read: {exc}"
    return ModelFile(path, source, display_name, info, error, read_only=source != "models_dir")


def _base_name(entry: ModelFile) -> str:
    assert entry.info is not None
    name = (entry.info.name or "").strip()
    if name:
        return name
    stem = entry.path.stem if entry.source != "ollama" else entry.display_name.split(":")[0]
    return strip_quantization_suffix(stem)


def _group(files: list[ModelFile]) -> list[ModelFamily]:
    # Same model, other quantization: quantizing changes neither the shape nor the element
    # count of any tensor (checked on generated files), so these must match exactly.
    groups: dict[tuple[object, ...], list[ModelFile]] = {}
    for entry in files:
        i = entry.info
        assert i is not None
        shape = (i.architecture, i.block_count, i.embedding_length, i.vocab_size, i.head_count)
        same = (*shape, i.head_count_kv, i.parameter_count, _base_name(entry).casefold())
        groups.setdefault(same, []).append(entry)
    families: list[ModelFamily] = []
    used: set[str] = set()
    for members in sorted(groups.values(), key=lambda m: (_base_name(m[0]).casefold(), _params(m[0]))):
        members.sort(key=lambda f: (f.precision_key(), f.read_only, str(f.path)))
        name, params = _base_name(members[0]), _params(members[0])
        key = _slug(name)
        if key in used:  # the same name at another size or shape
            key = next(k for n in range(1, len(used) + 2) if (k := f"{key}-{params}-{n}") not in used)
        used.add(key)
        assert members[0].info is not None
        shown = _shown_name(members[0])
        families.append(ModelFamily(key, shown, members[0].info.architecture, params, tuple(members)))
    return families


def _shown_name(entry: ModelFile) -> str:
    """The family's name as people call the model (``SmolLM2-135M-Instruct``, ``llama3.2``)."""
    assert entry.info is not None
    store_name = entry.display_name.split(":")[0] if entry.source == "ollama" else None
    return display_name(entry.info, entry.path, store_name)


def _params(entry: ModelFile) -> int:
    return entry.info.parameter_count if entry.info else 0


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9.]+", "-", name.casefold()).strip("-") or "model"


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a symlink loop: compare the path as given
        return path.absolute()
