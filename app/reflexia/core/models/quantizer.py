"""On-device quantization with llama.cpp's own quantizer.

Writes atomically (temporary file + rename: a crash never leaves a half file
the catalog would list) and verifies the result by reading it back.
"""

from __future__ import annotations

import ctypes
import os
import re
from pathlib import Path
from typing import Final

import gguf

from reflexia.core.atomic_file import atomic_output
from reflexia.core.config.logging_setup import route_llama_log
from reflexia.core.errors import QuantizationError, ReflexiaError
from reflexia.core.models.gguf_file import read_gguf
from reflexia.core.models.ladder import LADDER, UNQUANTIZED

_RUNG_FILE_TYPES: Final[dict[str, gguf.LlamaFileType]] = {
    "q4_0": gguf.LlamaFileType.MOSTLY_Q4_0,
    "q4_k_m": gguf.LlamaFileType.MOSTLY_Q4_K_M,
    "q5_k_m": gguf.LlamaFileType.MOSTLY_Q5_K_M,
    "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0,
    "f16": gguf.LlamaFileType.MOSTLY_F16,
}


def quantize_model(src: str | os.PathLike[str], rung: str, out: str | os.PathLike[str] | None = None) -> Path:
    """Quantize an f16/bf16/f32 GGUF with llama.cpp.

    Args:
        src: The unquantized model.
        rung: One of :data:`LADDER`.
        out: Destination; by default the source name with its ``f16`` tag
            replaced by the rung (``demo-f16.gguf`` -> ``demo-q4_k_m.gguf``),
            else ``<stem>-<rung>.gguf``. Replaced atomically.

    Returns:
        The path written, checked with :func:`read_gguf`.

    Raises:
        ModelFileError: The source is missing or malformed.
        QuantizationError: Unknown rung, already quantized source, or llama.cpp failed.
    """
    if rung not in _RUNG_FILE_TYPES:
        raise QuantizationError(f"unknown quantization {rung!r} (choose from {', '.join(LADDER)})")
    src_path = Path(src)
    source = read_gguf(src_path)
    if source.quantization not in UNQUANTIZED:
        raise QuantizationError(
            f"{src_path}: already quantized ({source.quantization}); quantize from an f16, bf16 or f32 file"
        )
    out_path = Path(out) if out is not None else default_output_path(src_path, rung)
    if out_path.resolve() == src_path.resolve():
        raise QuantizationError(f"{out_path}: output would overwrite its source")
    import llama_cpp  # deferred: loading the shared library is only needed here

    route_llama_log()

    file_type = _RUNG_FILE_TYPES[rung]
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = int(file_type)
    params.nthread = os.cpu_count() or 1
    with atomic_output(out_path) as tmp:
        status = llama_cpp.llama_model_quantize(os.fsencode(src_path), os.fsencode(tmp), ctypes.byref(params))
        if status != 0:
            raise QuantizationError(f"{src_path}: llama.cpp could not quantize to {rung} (status {status})")
        try:
            result = read_gguf(tmp)
        except ReflexiaError as exc:
            raise QuantizationError(f"{out_path}: llama.cpp wrote an invalid file: {exc}") from exc
        if result.file_type != file_type:
            raise QuantizationError(
                f"{out_path}: llama.cpp wrote file type {result.file_type}, expected {int(file_type)}"
            )
    return out_path


_F16_TAG: Final = re.compile(r"(?<![a-z0-9])f16(?![a-z0-9])", re.IGNORECASE)


def default_output_path(src: Path, rung: str) -> Path:
    """Where a rung goes by default: the source's name with its f16 tag replaced by ``rung``."""
    stem = src.stem
    tags = list(_F16_TAG.finditer(stem))
    if tags:
        last = tags[-1]
        candidate = src.with_name(f"{stem[: last.start()]}{rung}{stem[last.end() :]}.gguf")
        if candidate != src:
            return candidate
    return src.with_name(f"{stem}-{rung}.gguf")


def rung_output_path(source: Path, rung: str, models_dir: Path, family_name: str | None = None) -> Path:
    """Where a new rung of ``source`` goes: always in Reflexia's own models folder.

    Next to its source when that is in the models folder; otherwise (a model in
    Ollama's or LM Studio's store, which are read-only to us) in the models folder,
    named after the family so the catalog groups it with its source.
    """
    try:
        source.resolve().relative_to(models_dir.resolve())
    except ValueError:
        name = re.sub(r'[\\/:*?"<>|\s]+', "-", family_name or source.stem).strip("-.") or "model"
        return models_dir / f"{name}-{rung}.gguf"
    return default_output_path(source, rung)
