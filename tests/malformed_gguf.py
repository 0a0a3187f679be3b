"""Broken GGUF files, derived from one good generated model, for validator tests.

Offsets are located with ``gguf.GGUFReader`` (an independent parser), so these
files do not depend on the code they test.
"""

from __future__ import annotations

import struct
from pathlib import Path

import gguf
import numpy as np

ABSURD = 2**60
UNKNOWN_TYPE = 99


def write_malformed_set(src: Path, out_dir: Path) -> dict[str, Path]:
    """Write a named set of broken variants of ``src`` into ``out_dir``.

    Args:
        src: A valid little-endian GGUF v3 model with at least two tensors.
        out_dir: Existing directory for the broken files.

    Returns:
        File name stem -> path, one entry per kind of damage.
    """
    good = src.read_bytes()
    reader = gguf.GGUFReader(src)
    fields = [f for f in reader.fields.values() if not f.name.startswith("GGUF.")]
    tokens = reader.fields["tokenizer.ggml.tokens"]
    first, second = reader.tensors[0].field, reader.tensors[1].field
    table_start = first.offset
    last = reader.tensors[-1].field
    table_end = last.offset + sum(int(part.nbytes) for part in last.parts)
    data_start = int(reader.data_offset)
    data_end = max(t.data_offset + t.n_bytes for t in reader.tensors)
    del reader  # release the memory map

    def key_at(index: int) -> int:  # offset of a metadata entry's key length
        return fields[index].offset

    def value_type_at(index: int) -> int:
        return key_at(index) + 8 + len(fields[index].name.encode())

    def dims_at(field: gguf.ReaderField) -> int:  # offset of a tensor's n_dims
        return field.offset + 8 + len(field.name.encode())

    def type_at(field: gguf.ReaderField) -> int:
        (n_dims,) = struct.unpack_from("<I", good, dims_at(field))
        return dims_at(field) + 4 + 8 * int(n_dims)

    variants: dict[str, bytes] = {
        "empty": b"",
        "truncated_in_header": good[:16],
        "truncated_after_header": good[:40],
        "truncated_in_metadata": good[: tokens.offset + 1000],
        "truncated_in_tensor_table": good[: (table_start + table_end) // 2],
        "truncated_in_tensor_data": good[: (data_start + data_end) // 2],
        "truncated_last_byte": good[: data_end - 1],
        "bad_magic": b"GGML" + good[4:],
        "bad_version": _patch(good, 4, "<I", 7),
        "big_endian": _patch(good, 4, ">I", 3),
        "absurd_kv_count": _patch(good, 16, "<Q", ABSURD),
        "absurd_tensor_count": _patch(good, 8, "<Q", ABSURD),
        "absurd_string_length": _patch(good, key_at(2), "<Q", 999_999_999_999),
        "unknown_value_type": _patch(good, value_type_at(1), "<I", UNKNOWN_TYPE),
        "unknown_tensor_type": _patch(good, type_at(first), "<I", UNKNOWN_TYPE),
        "too_many_dimensions": _patch(good, dims_at(first), "<I", 7),
        "zero_dimension": _patch(good, dims_at(first) + 4, "<Q", 0),
        "misaligned_tensor_offset": _patch(good, type_at(second) + 4, "<Q", 1),
    }
    paths = {}
    for name, data in variants.items():
        paths[name] = out_dir / f"{name}.gguf"
        paths[name].write_bytes(data)
    paths["missing_architecture"] = write_minimal(out_dir / "missing_architecture.gguf", None)
    return paths


def _patch(data: bytes, at: int, fmt: str, value: int) -> bytes:
    packed = struct.pack(fmt, value)
    return data[:at] + packed + data[at + len(packed) :]


def write_minimal(path: Path, arch: str | None) -> Path:
    """Write a structurally valid GGUF with one tensor and the given architecture."""
    writer = gguf.GGUFWriter(path, arch or "llama")
    if arch is None:
        del writer.kv_data[0][gguf.Keys.General.ARCHITECTURE]
    writer.add_name("malformed-test")
    writer.add_tensor("token_embd.weight", np.zeros((4, 32), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
