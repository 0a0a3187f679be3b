"""Validate a GGUF file's header and tensor table, and read its metadata.

llama.cpp rejects every malformed file with the same generic message, so we
check the file ourselves before handing it over and report one specific line
per problem, naming what is wrong and at which byte. The reader streams the
header through a small buffer: it never memory-maps the file and never reads
tensor data, so a multi-gigabyte model is checked in milliseconds.

Only little-endian GGUF versions 2 and 3 are accepted; the checks mirror what
llama.cpp's own loader requires (aligned, contiguous tensor data in table
order, at most 4 dimensions, rows that are whole quantization blocks). Which
architectures run is llama.cpp's to decide: a list of our own fell behind it and
refused models it runs.
"""

from __future__ import annotations

import dataclasses
import math
import os
import stat
import struct
from typing import Any, BinaryIO, Final

import gguf

from reflexia.core.errors import ModelFileError, UnsupportedModelError
from reflexia.core.models.gguf_stream import BadStringLengthError, ByteStream, TruncatedReadError

__all__ = [
    "GGUFInfo",
    "TensorInfo",
    "quant_label",
    "read_gguf",
]

_HEADER_SIZE: Final = 24
_MAGIC: Final = b"GGUF"
_MIN_KV_BYTES: Final = 12  # key length + value type, before any payload
_MIN_TENSOR_INFO_BYTES: Final = 24  # name length + n_dims + type + offset
_MAX_TENSOR_NAME: Final = 63  # llama.cpp's GGML_MAX_NAME minus the NUL
_MAX_DIMS: Final = 4
# A length or count above this that overruns the file is garbage, not a cut-off download.
_PLAUSIBLE: Final = 1 << 24
_KEEP_STRING: Final = 1024  # longer metadata strings are summarized, not kept
_SMALL_ARRAY: Final = 256  # numeric arrays up to this length are read (per-layer values)
_ALWAYS_KEPT: Final = frozenset(
    {"general.architecture", "general.name", "general.type", "tokenizer.chat_template"}
)

_VT = gguf.GGUFValueType
_U32: Final = struct.Struct("<I")
_U64: Final = struct.Struct("<Q")
_HEADER: Final = struct.Struct("<4sIQQ")
_DIM_STRUCTS: Final = {n: struct.Struct(f"<{n}Q") for n in range(1, _MAX_DIMS + 1)}
_SCALAR_FORMATS: Final[dict[int, str]] = {
    _VT.UINT8: "B", _VT.INT8: "b", _VT.UINT16: "H", _VT.INT16: "h",
    _VT.UINT32: "I", _VT.INT32: "i", _VT.FLOAT32: "f", _VT.BOOL: "?",
    _VT.UINT64: "Q", _VT.INT64: "q", _VT.FLOAT64: "d",
}  # fmt: skip
_SCALARS: Final = {vt: struct.Struct("<" + fmt) for vt, fmt in _SCALAR_FORMATS.items()}
_QUANT_SIZES: Final = {int(t): size for t, size in gguf.GGML_QUANT_SIZES.items()}


@dataclasses.dataclass(frozen=True)
class TensorInfo:
    """One entry of the tensor table.

    Attributes:
        name: Tensor name, e.g. ``blk.0.attn_q.weight``.
        shape: Dimensions in GGUF order (innermost first, as llama.cpp's ``ne``).
        ggml_type: ``gguf.GGMLQuantizationType`` id of the stored data.
        offset: Absolute byte offset of the tensor's data in the file.
        n_bytes: Size of the tensor's data in bytes, without padding.
    """

    name: str
    shape: tuple[int, ...]
    ggml_type: int
    offset: int
    n_bytes: int


@dataclasses.dataclass(frozen=True)
class GGUFInfo:
    """What a validated GGUF file says about itself.

    Attributes:
        path: The path as given to :func:`read_gguf`.
        version: GGUF format version (2 or 3).
        file_size: Size of the file in bytes.
        architecture: ``general.architecture``.
        name: ``general.name``.
        file_type: ``general.file_type`` (a ``gguf.LlamaFileType`` id).
        quantization: Lower-case label such as ``q4_k_m``; from ``file_type``,
            else the tensor type holding the most bytes.
        tensor_type_bytes: Total bytes per ggml tensor type (the tensor mix),
            largest first.
        parameter_count: Sum of the element counts of all tensors.
        context_length: ``{arch}.context_length``.
        block_count: ``{arch}.block_count`` (layers).
        head_count: ``{arch}.attention.head_count`` (largest, if per layer).
        head_count_kv: ``{arch}.attention.head_count_kv``, defaulting to ``head_count``.
        embedding_length: ``{arch}.embedding_length``.
        vocab_size: Number of entries in ``tokenizer.ggml.tokens``.
        chat_template: ``tokenizer.chat_template``.
        metadata: Scalar metadata; arrays and long strings are summarized as
            ``"[type x length]"`` strings.
        tensors: The tensor table in file order.
    """

    path: str
    version: int
    file_size: int
    architecture: str
    name: str | None
    file_type: int | None
    quantization: str
    tensor_type_bytes: dict[str, int]
    parameter_count: int
    context_length: int | None
    block_count: int | None
    head_count: int | None
    head_count_kv: int | None
    embedding_length: int | None
    vocab_size: int | None
    chat_template: str | None
    metadata: dict[str, object]
    tensors: tuple[TensorInfo, ...]

    def to_json_dict(self) -> dict[str, object]:
        """Return a JSON-serializable summary without the tensor table and metadata."""
        return {
            "path": self.path,
            "architecture": self.architecture,
            "name": self.name,
            "parameters": self.parameter_count,
            "quantization": self.quantization,
            "tensor_types": dict(self.tensor_type_bytes),
            "context_length": self.context_length,
            "layers": self.block_count,
            "heads": self.head_count,
            "kv_heads": self.head_count_kv,
            "embedding_length": self.embedding_length,
            "vocab_size": self.vocab_size,
            "has_chat_template": self.chat_template is not None,
            "file_size": self.file_size,
            "version": self.version,
        }


def quant_label(file_type: int) -> str:
    """Return the user-facing label of a llama.cpp file type id.

    Args:
        file_type: A ``gguf.LlamaFileType`` id, e.g. 15.

    Returns:
        The lower-case label, e.g. ``"q4_k_m"``; ``"unknown-<id>"`` for ids
        this version of the ``gguf`` package does not know.
    """
    try:
        name = gguf.LlamaFileType(file_type).name
    except ValueError:
        return f"unknown-{file_type}"
    return name.removeprefix("MOSTLY_").removeprefix("ALL_").lower()


def read_gguf(path: str | os.PathLike[str]) -> GGUFInfo:
    """Validate a GGUF file's structure and read its metadata.

    Args:
        path: The file to check.

    Returns:
        The file's metadata and tensor table.

    Raises:
        UnsupportedModelError: The file is a valid GGUF that we cannot run
            (big-endian, unknown version, adapter).
        ModelFileError: The file is missing, unreadable, not a GGUF,
            truncated or corrupt; the message names the problem and byte.
    """
    name = os.fspath(path)
    try:
        f = open(name, "rb")  # noqa: SIM115 - closed below, after the stat check
    except FileNotFoundError:
        raise ModelFileError(name, "file not found") from None
    except IsADirectoryError:
        raise ModelFileError(name, "is a directory, not a model file") from None
    except PermissionError:
        raise ModelFileError(name, "cannot read: permission denied") from None
    except OSError as exc:
        raise ModelFileError(name, f"cannot read: {exc.strerror or exc}") from exc
    with f:
        try:
            st = os.fstat(f.fileno())
            if stat.S_ISDIR(st.st_mode):
                raise ModelFileError(name, "is a directory, not a model file")
            if not stat.S_ISREG(st.st_mode):
                raise ModelFileError(name, "is not a regular file")
            return _Parser(name, f, st.st_size).parse()
        except OSError as exc:
            raise ModelFileError(name, f"cannot read: {exc.strerror or exc}") from exc


class _Parser:
    """Single-use parser of one open file; see :func:`read_gguf`."""

    def __init__(self, path: str, f: BinaryIO, size: int) -> None:
        self.path = path
        self.size = size
        self.s = ByteStream(f, size)
        self.where = "the header"  # what was being read, for truncation messages
        self.values: dict[str, object] = {}  # scalars and the strings we keep
        self.metadata: dict[str, object] = {}  # every key in file order, big values summarized
        self.types: dict[str, int] = {}
        self.array_lengths: dict[str, int] = {}
        self.small_arrays: dict[str, tuple[Any, ...]] = {}
        self.tensors: list[TensorInfo] = []  # offsets relative to the data section until checked

    def corrupt(self, problem: str) -> ModelFileError:
        return ModelFileError(self.path, f"corrupt: {problem}")

    def parse(self) -> GGUFInfo:
        try:
            version, n_tensors, n_kv = self.header()
            for i in range(n_kv):
                self.where = f"metadata entry #{i + 1} of {n_kv}"
                self.key_value(i + 1)
            alignment = self.alignment()
            names: set[str] = set()
            for i in range(n_tensors):
                self.where = f"tensor info #{i + 1} of {n_tensors}"
                self.tensor_info(i + 1, names)
        except TruncatedReadError:
            raise ModelFileError(
                self.path, f"truncated at byte {self.size} while reading {self.where}"
            ) from None
        tensors = self.check_data(alignment)
        return self.build(version, tensors)

    def header(self) -> tuple[int, int, int]:
        if self.size == 0:
            raise ModelFileError(
                self.path, f"truncated: file is 0 bytes (empty), a GGUF header needs {_HEADER_SIZE}"
            )
        head = self.s.read(min(self.size, _HEADER_SIZE))
        if not (head[:4] == _MAGIC or (len(head) < 4 and _MAGIC.startswith(head))):
            raise ModelFileError(
                self.path, f"not a GGUF file (starts with {head[:4]!r} instead of {_MAGIC!r})"
            )
        if self.size < _HEADER_SIZE:
            raise ModelFileError(
                self.path,
                f"truncated: file is {self.size} bytes, a GGUF header needs {_HEADER_SIZE}",
            )
        _, version, n_tensors, n_kv = _HEADER.unpack(head)
        if version & 0xFFFF == 0 and int.from_bytes(head[4:8], "big") in (2, 3):
            raise UnsupportedModelError(self.path, "big-endian GGUF files are not supported")
        if version not in (2, 3):
            raise UnsupportedModelError(self.path, f"unsupported GGUF version {version} (expected 2 or 3)")
        room = self.size - _HEADER_SIZE
        for count, unit, what in (
            (n_kv, _MIN_KV_BYTES, "metadata entries"),
            (n_tensors, _MIN_TENSOR_INFO_BYTES, "tensors"),
        ):
            if count * unit > room and count > _PLAUSIBLE:
                raise self.corrupt(f"header claims {count} {what} but the file has only {self.size} bytes")
        if n_kv * _MIN_KV_BYTES + n_tensors * _MIN_TENSOR_INFO_BYTES > room:
            raise ModelFileError(
                self.path,
                f"truncated: file is {self.size} bytes, too short for the {n_kv} metadata "
                f"entries and {n_tensors} tensors its header declares",
            )
        return version, n_tensors, n_kv

    def string_length(self, what: str) -> int:
        """Read a string's length and check that the string fits in the file."""
        at = self.s.offset
        (n,) = self.s.unpack(_U64)
        if n > self.s.remaining:
            if n > _PLAUSIBLE:
                raise self.corrupt(f"{what} has length {n} beyond end of file at byte {at}")
            raise TruncatedReadError
        return int(n)

    def key_value(self, number: int) -> None:
        s = self.s
        at = s.offset
        key = s.read(self.string_length(f"metadata key #{number}")).decode("utf-8", "replace")
        if not key:
            raise self.corrupt(f"metadata key #{number} is empty at byte {at}")
        self.where += f" ('{key}')"
        if key in self.types:
            raise self.corrupt(f"duplicate metadata key '{key}' at byte {at}")
        type_at = s.offset
        (vtype,) = s.unpack(_U32)
        self.types[key] = vtype
        if vtype in _SCALARS:
            self.values[key] = self.metadata[key] = s.unpack(_SCALARS[vtype])[0]
        elif vtype == _VT.STRING:
            n = self.string_length(f"metadata value '{key}'")
            if n <= _KEEP_STRING or (key in _ALWAYS_KEPT and n <= _PLAUSIBLE):
                text = self.values[key] = s.read(n).decode("utf-8", "replace")
                self.metadata[key] = text if n <= _KEEP_STRING else f"[string x {n} bytes]"
            else:
                s.skip(n)
                self.metadata[key] = f"[string x {n} bytes]"
        elif vtype == _VT.ARRAY:
            self.array(key)
        else:
            raise self.corrupt(f"metadata key '{key}' has unknown value type {vtype} at byte {type_at}")

    def array(self, key: str) -> None:
        s = self.s
        at = s.offset
        etype, count = s.unpack(_U32)[0], s.unpack(_U64)[0]
        if etype == _VT.ARRAY:
            raise self.corrupt(f"metadata key '{key}' is an array of arrays (byte {at})")
        if etype != _VT.STRING and etype not in _SCALARS:
            raise self.corrupt(f"metadata array '{key}' has unknown element type {etype} at byte {at}")
        item_size = 8 if etype == _VT.STRING else _SCALARS[etype].size
        if count * item_size > s.remaining:
            if count > _PLAUSIBLE:
                raise self.corrupt(
                    f"metadata array '{key}' claims {count} elements beyond end of file at byte {at + 4}"
                )
            raise TruncatedReadError
        if etype == _VT.STRING:
            try:
                s.skip_strings(count)
            except BadStringLengthError as bad:
                if bad.length > _PLAUSIBLE:
                    raise self.corrupt(
                        f"string #{bad.index + 1} of metadata array '{key}' has length "
                        f"{bad.length} beyond end of file at byte {bad.at}"
                    ) from None
                raise TruncatedReadError from None
        elif count <= _SMALL_ARRAY:
            fmt = f"<{count}{_SCALAR_FORMATS[etype]}"
            self.small_arrays[key] = struct.unpack(fmt, s.read(count * item_size))
        else:
            s.skip(count * item_size)
        self.array_lengths[key] = count
        self.metadata[key] = f"[{_VT(etype).name.lower()} x {count}]"

    def alignment(self) -> int:
        key = gguf.Keys.General.ALIGNMENT
        if key not in self.types:
            return gguf.GGUF_DEFAULT_ALIGNMENT
        if self.types[key] != _VT.UINT32:
            raise self.corrupt(f"{key} must be a uint32, not {_type_name(self.types[key])}")
        value = self.values[key]
        assert isinstance(value, int)
        if value == 0 or value & (value - 1):
            raise self.corrupt(f"{key} = {value} is not a power of two")
        return value

    def tensor_info(self, number: int, names: set[str]) -> None:
        s = self.s
        at = s.offset
        raw_name = s.read(self.string_length(f"name of tensor #{number}"))
        name = raw_name.decode("utf-8", "replace")
        if len(raw_name) > _MAX_TENSOR_NAME:
            raise self.corrupt(
                f"name of tensor #{number} is {len(raw_name)} bytes long (at most "
                f"{_MAX_TENSOR_NAME} allowed) at byte {at}"
            )
        self.where += f" ('{name}')"
        if name in names:
            raise self.corrupt(f"duplicate tensor name '{name}' at byte {at}")
        names.add(name)
        dims_at = s.offset
        (n_dims,) = s.unpack(_U32)
        if not 1 <= n_dims <= _MAX_DIMS:
            raise self.corrupt(
                f"tensor '{name}' has {n_dims} dimensions (expected 1 to {_MAX_DIMS}) at byte {dims_at}"
            )
        shape: tuple[int, ...] = s.unpack(_DIM_STRUCTS[n_dims])
        for j, dim in enumerate(shape):
            if dim == 0 or dim >= 1 << 63:
                size = dim - (1 << 64) if dim >= 1 << 63 else dim
                raise self.corrupt(
                    f"tensor '{name}' has size {size} in dimension {j} at byte {dims_at + 4 + 8 * j}"
                )
        n_elements = math.prod(shape)
        if n_elements >= 1 << 63:
            raise self.corrupt(f"tensor '{name}' has {n_elements} elements, too many to address")
        type_at = s.offset
        (ggml_type,) = s.unpack(_U32)
        if ggml_type not in _QUANT_SIZES:
            raise self.corrupt(f"tensor '{name}' has unknown ggml type {ggml_type} at byte {type_at}")
        block, type_size = _QUANT_SIZES[ggml_type]
        if shape[0] % block:
            raise self.corrupt(
                f"tensor '{name}' has rows of {shape[0]} elements, not a multiple of the "
                f"{_ggml_type_name(ggml_type)} block size {block}"
            )
        (offset,) = s.unpack(_U64)
        self.tensors.append(TensorInfo(name, shape, ggml_type, offset, n_elements // block * type_size))

    def check_data(self, alignment: int) -> tuple[TensorInfo, ...]:
        """Check that tensor data is aligned, contiguous and inside the file."""
        data_start = _align(self.s.offset, alignment)
        expected = 0
        tensors = []
        for t in self.tensors:
            if t.offset % alignment:
                raise self.corrupt(
                    f"tensor '{t.name}' data offset {t.offset} is not a multiple of the alignment {alignment}"
                )
            if t.offset != expected:
                raise self.corrupt(
                    f"tensor '{t.name}' data offset is {t.offset}, expected {expected} "
                    "(tensor data must follow the table order without gaps)"
                )
            end = data_start + t.offset + t.n_bytes
            if end > self.size:
                raise ModelFileError(
                    self.path,
                    f"truncated: tensor '{t.name}' ends at byte {end} but the file has only "
                    f"{self.size} bytes",
                )
            expected += _align(t.n_bytes, alignment)
            tensors.append(dataclasses.replace(t, offset=data_start + t.offset))
        return tuple(tensors)

    def integer(self, key: str) -> int | None:
        """Return an integer value, or the largest entry of a per-layer array."""
        value = self.values.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        entries = self.small_arrays.get(key)
        if entries and all(isinstance(v, int) and not isinstance(v, bool) for v in entries):
            return int(max(entries))
        return None

    def build(self, version: int, tensors: tuple[TensorInfo, ...]) -> GGUFInfo:
        arch_key = gguf.Keys.General.ARCHITECTURE
        arch = self.values.get(arch_key)
        if arch_key not in self.types:
            raise ModelFileError(self.path, f"missing {arch_key}: cannot tell which model this is")
        if not isinstance(arch, str):
            raise self.corrupt(f"{arch_key} has type {_type_name(self.types[arch_key])}, expected string")
        if self.values.get(gguf.Keys.General.TYPE) == "adapter":
            raise UnsupportedModelError(self.path, "is a LoRA adapter, not a model")
        if not tensors:
            raise ModelFileError(self.path, "contains no tensors (a vocabulary-only file?)")

        mix: dict[str, int] = {}
        for t in tensors:
            type_name = _ggml_type_name(t.ggml_type)
            mix[type_name] = mix.get(type_name, 0) + t.n_bytes
        mix = dict(sorted(mix.items(), key=lambda item: (-item[1], item[0])))
        file_type = self.integer(gguf.Keys.General.FILE_TYPE)
        known = {int(ft) for ft in gguf.LlamaFileType} - {int(gguf.LlamaFileType.GUESSED)}
        if file_type is not None and file_type in known:
            quantization = quant_label(file_type)
        else:  # no usable general.file_type: name the file after its dominant tensor type
            quantization = next(iter(mix))
        head_count = self.integer(f"{arch}.attention.head_count")
        head_count_kv = self.integer(f"{arch}.attention.head_count_kv")
        name = self.values.get(gguf.Keys.General.NAME)
        template = self.values.get(gguf.Keys.Tokenizer.CHAT_TEMPLATE)
        return GGUFInfo(
            path=self.path,
            version=version,
            file_size=self.size,
            architecture=arch,
            name=name if isinstance(name, str) else None,
            file_type=file_type,
            quantization=quantization,
            tensor_type_bytes=mix,
            parameter_count=sum(math.prod(t.shape) for t in tensors),
            context_length=self.integer(f"{arch}.context_length"),
            block_count=self.integer(f"{arch}.block_count"),
            head_count=head_count,
            head_count_kv=head_count_kv if head_count_kv is not None else head_count,
            embedding_length=self.integer(f"{arch}.embedding_length"),
            vocab_size=self.array_lengths.get(gguf.Keys.Tokenizer.LIST),
            chat_template=template if isinstance(template, str) else None,
            metadata=self.metadata,
            tensors=tensors,
        )


def _align(offset: int, alignment: int) -> int:
    return -(-offset // alignment) * alignment


def _ggml_type_name(ggml_type: int) -> str:
    return gguf.GGMLQuantizationType(ggml_type).name.lower()


def _type_name(vtype: int) -> str:
    try:
        return _VT(vtype).name.lower()
    except ValueError:
        return f"type {vtype}"
