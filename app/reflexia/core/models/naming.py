"""What to call a model: the name people use for it, not whatever its metadata says.

A file's ``general.name`` is often a training run's label (SmolLM2's reads
"Smollm2 135M 8k Lc100K Mix1 Ep2"), while the file name is what the publisher
chose and what people type. So the file name wins unless it is plainly not a
name: a blob digest, or a generic ``model.gguf`` / ``ggml-model-f16.gguf``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

from reflexia.core.models.gguf_file import GGUFInfo

__all__ = ["display_name", "strip_quantization_suffix"]

# A quantization tag at the end of a file stem: -Q4_K_M, .Q8_0, _q5_K_M, -IQ4_XS, -f16,
# -UD-Q4_K_XL (Unsloth's "dynamic" files), -bf16, -fp16.
_QUANT_TAG: Final = re.compile(
    r"[-_.](?:ud[-_])?"
    r"(?:i?q[1-8](?:_[01])?(?:_k)?(?:_(?:xxs|xs|xl|nl|s|m|l))?|tq[12]_0|mxfp4(?:_moe)?|b?f16|f32|fp16|fp32)$",
    re.IGNORECASE,
)

# The shard suffix of a split model: Qwen2.5-72B-Instruct-Q4_K_M-00001-of-00002.
_SPLIT_SUFFIX: Final = re.compile(r"[-_.]\d{5}-of-\d{5}$", re.IGNORECASE)

# Content-addressed blob names (Ollama's sha256-<hex>, bare digests): no one's name for a model.
_DIGEST: Final = re.compile(r"(?:sha\d+[-_:])?[0-9a-f]{32,}", re.IGNORECASE)

# Stems converters and exporters write whatever the model is (llama.cpp's convert scripts,
# Unsloth's exports); compared after the shard and quantization suffixes are stripped.
_GENERIC_STEMS: Final = frozenset(
    {"model", "models", "ggml-model", "ggml", "gguf", "weights", "consolidated", "pytorch-model", "unsloth"}
)

# How the GGUF reader summarizes a value it did not keep ("[string x 2048 bytes]").
_SUMMARY: Final = re.compile(r"\[\w+ x \d+(?: bytes)?\]")

_GGUF_SUFFIX: Final = ".gguf"


def strip_quantization_suffix(stem: str) -> str:
    """A file stem without its quantization tag: ``Llama-3-8B-Q4_K_M`` -> ``Llama-3-8B``.

    A stem that is nothing but a tag is returned unchanged.
    """
    stripped = _QUANT_TAG.sub("", stem)
    return stripped if stripped.strip("-_. ") else stem


def display_name(info: GGUFInfo, path: Path, store_name: str | None = None) -> str:
    """The name to show for a model file, as people name the model.

    The first that applies:

    1. ``store_name``: the name the file's store gives it (Ollama's ``model:tag``).
    2. The file name without ``.gguf``, its shard suffix (``-00001-of-00002``) and its
       quantization tag, when that looks like a name: it has a letter and is neither a
       digest (``sha256-<hex>``) nor a generic name such as ``ggml-model-f16``.
    3. ``general.basename``, ``general.size_label`` and ``general.finetune`` joined by
       ``-`` as written (``smollm2-135M-Instruct``), when the basename is present.
    4. ``general.name``.
    5. The file name without ``.gguf``, as it is.

    Args:
        info: The file's metadata.
        path: The file (for Ollama, the blob).
        store_name: The name another app's store gives the file, if any.

    Returns:
        A non-empty name (for a nameless ``.gguf`` file, the file name itself).
    """
    if store_name and store_name.strip():
        return store_name.strip()
    stem = _stem(path)
    base = strip_quantization_suffix(_SPLIT_SUFFIX.sub("", stem))
    if _looks_like_a_name(base):
        return base
    basename = _text(info.metadata, "general.basename")
    if basename:
        extras = (_text(info.metadata, key) for key in ("general.size_label", "general.finetune"))
        return "-".join([basename, *(e for e in extras if e)])
    name = (info.name or "").strip()
    return name or stem or path.name


def _stem(path: Path) -> str:
    # Only ".gguf" is an extension here: in "Qwen2.5-7B" or an Ollama blob, a dot is part of the name.
    name = path.name
    return name[: -len(_GGUF_SUFFIX)] if name.lower().endswith(_GGUF_SUFFIX) else name


def _looks_like_a_name(base: str) -> bool:
    if not any(c.isalpha() for c in base) or _DIGEST.fullmatch(base):
        return False
    if not _QUANT_TAG.sub("", f"-{base}"):  # nothing but a tag: "Q4_K_M.gguf"
        return False
    return re.sub(r"[-_. ]+", "-", base.casefold()) not in _GENERIC_STEMS


def _text(metadata: dict[str, object], key: str) -> str | None:
    value = metadata.get(key)
    if not isinstance(value, str) or _SUMMARY.fullmatch(value):
        return None
    return value.strip() or None
