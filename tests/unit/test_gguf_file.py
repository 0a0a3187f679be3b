"""Tests of the GGUF validator and metadata reader on real generated files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import gguf
import numpy as np
import pytest

from reflexia.core.errors import ModelFileError, UnsupportedModelError
from reflexia.core.models import gguf_file
from reflexia.core.models.gguf_file import GGUFInfo, quant_label, read_gguf
from reflexia.core.models.model_factory import MODEL_SIZES, make_model
from tests.malformed_gguf import write_malformed_set, write_minimal

TINY = MODEL_SIZES["tiny"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_model(tmp_path_factory.mktemp("models") / "tiny-f16.gguf", "tiny", seed=0)


@pytest.fixture(scope="module")
def malformed(tiny: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_malformed_set(tiny, tmp_path_factory.mktemp("malformed"))


def _expected_parameters(vocab: int, embd: int, layers: int, heads: int, kv_heads: int, ffn: int) -> int:
    kv_dim = embd // heads * kv_heads
    per_layer = 2 * embd + 2 * embd * embd + 2 * embd * kv_dim + 3 * embd * ffn
    return 2 * vocab * embd + embd + layers * per_layer


def test_reads_the_numbers_of_a_generated_model(tiny: Path) -> None:
    info = read_gguf(tiny)

    assert info.path == str(tiny)
    assert info.version == 3
    assert info.file_size == tiny.stat().st_size
    assert info.architecture == "llama"
    assert info.name == "reflexia-tiny"
    assert info.file_type == gguf.LlamaFileType.MOSTLY_F16
    assert info.quantization == "f16"
    assert info.parameter_count == _expected_parameters(
        TINY.vocab_size,
        TINY.embedding_length,
        TINY.block_count,
        TINY.head_count,
        TINY.head_count_kv,
        TINY.feed_forward_length,
    )
    assert info.context_length == TINY.context_length
    assert info.block_count == TINY.block_count
    assert info.head_count == TINY.head_count
    assert info.head_count_kv == TINY.head_count_kv
    assert info.embedding_length == TINY.embedding_length
    assert info.vocab_size == TINY.vocab_size
    assert info.chat_template is not None and "<|im_start|>" in info.chat_template
    assert len(info.tensors) == 3 + 9 * TINY.block_count
    assert list(info.tensor_type_bytes) == ["f16", "f32"]  # largest first
    assert sum(info.tensor_type_bytes.values()) == sum(t.n_bytes for t in info.tensors)
    assert info.tensor_type_bytes["f32"] == 4 * TINY.embedding_length * (2 * TINY.block_count + 1)


def test_tensor_table_matches_an_independent_reader(tiny: Path) -> None:
    info = read_gguf(tiny)
    reader = gguf.GGUFReader(tiny)
    assert [t.name for t in info.tensors] == [t.name for t in reader.tensors]
    for ours, theirs in zip(info.tensors, reader.tensors, strict=True):
        assert ours.offset == theirs.data_offset
        assert ours.n_bytes == theirs.n_bytes
        assert ours.ggml_type == theirs.tensor_type
        assert ours.shape == tuple(int(d) for d in theirs.shape)


def test_metadata_keeps_scalars_and_summarizes_arrays(tiny: Path) -> None:
    metadata = read_gguf(tiny).metadata
    assert metadata["general.architecture"] == "llama"
    assert metadata["llama.block_count"] == TINY.block_count
    assert metadata["tokenizer.ggml.add_bos_token"] is True
    assert metadata["tokenizer.ggml.tokens"] == f"[string x {TINY.vocab_size}]"
    assert metadata["tokenizer.ggml.scores"] == f"[float32 x {TINY.vocab_size}]"
    assert all(isinstance(v, int | float | bool | str) for v in metadata.values())


def test_json_summary(tiny: Path) -> None:
    summary = read_gguf(tiny).to_json_dict()
    assert json.loads(json.dumps(summary)) == summary
    assert set(summary) == {
        "path", "architecture", "name", "parameters", "quantization", "tensor_types",
        "context_length", "layers", "heads", "kv_heads", "embedding_length", "vocab_size",
        "has_chat_template", "file_size", "version",
    }  # fmt: skip
    assert summary["layers"] == TINY.block_count
    assert summary["has_chat_template"] is True


@pytest.mark.parametrize(
    ("file_type", "label"),
    [
        (0, "f32"),
        (1, "f16"),
        (2, "q4_0"),
        (7, "q8_0"),
        (15, "q4_k_m"),
        (17, "q5_k_m"),
        (18, "q6_k"),
        (32, "bf16"),
    ],
)
def test_quant_label(file_type: int, label: str) -> None:
    assert quant_label(file_type) == label


def test_quant_label_of_an_unknown_id() -> None:
    assert quant_label(4242) == "unknown-4242"


def test_any_architecture_is_read_and_left_to_llama_cpp(tmp_path: Path) -> None:
    """Our own list of architectures refused models llama.cpp runs; llama.cpp decides now."""
    info = read_gguf(write_minimal(tmp_path / "newarch.gguf", "somenewarch"))
    assert info.architecture == "somenewarch"


# name -> (exception type, words the message must contain)
EXPECTED: dict[str, tuple[type[ModelFileError], tuple[str, ...]]] = {
    "empty": (ModelFileError, ("truncated", "0 bytes", "empty")),
    "truncated_in_header": (ModelFileError, ("truncated", "16 bytes", "header needs 24")),
    "truncated_after_header": (ModelFileError, ("truncated", "40 bytes", "metadata entries")),
    "truncated_in_metadata": (
        ModelFileError,
        ("truncated at byte", "metadata entry", "tokenizer.ggml.tokens"),
    ),
    "truncated_in_tensor_table": (ModelFileError, ("truncated at byte", "tensor info #")),
    "truncated_in_tensor_data": (ModelFileError, ("truncated", "tensor '", "ends at byte")),
    "truncated_last_byte": (ModelFileError, ("truncated", "tensor 'output.weight'", "ends at byte")),
    "bad_magic": (ModelFileError, ("not a GGUF file", "b'GGML'")),
    "bad_version": (UnsupportedModelError, ("version 7", "expected 2 or 3")),
    "big_endian": (UnsupportedModelError, ("big-endian",)),
    "absurd_kv_count": (ModelFileError, ("corrupt", f"{2**60} metadata entries")),
    "absurd_tensor_count": (ModelFileError, ("corrupt", f"{2**60} tensors")),
    "absurd_string_length": (ModelFileError, ("corrupt", "metadata key #3", "999999999999", "at byte")),
    "unknown_value_type": (ModelFileError, ("corrupt", "unknown value type 99", "at byte")),
    "unknown_tensor_type": (ModelFileError, ("corrupt", "unknown ggml type 99", "token_embd.weight")),
    "too_many_dimensions": (ModelFileError, ("corrupt", "7 dimensions")),
    "zero_dimension": (ModelFileError, ("corrupt", "size 0 in dimension 0")),
    "misaligned_tensor_offset": (ModelFileError, ("corrupt", "not a multiple of the alignment 32")),
    "missing_architecture": (ModelFileError, ("missing general.architecture",)),
}


def test_malformed_set_is_complete(malformed: dict[str, Path]) -> None:
    assert set(malformed) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_malformed_file_gets_a_specific_message(malformed: dict[str, Path], name: str) -> None:
    error_type, words = EXPECTED[name]
    with pytest.raises(error_type) as caught:
        read_gguf(malformed[name])
    message = str(caught.value)
    assert message.startswith(f"{malformed[name]}: ")
    assert caught.value.path == str(malformed[name])
    for word in words:
        assert word in message
    if error_type is ModelFileError:  # a broken file must not pass as "merely unsupported"
        assert not isinstance(caught.value, UnsupportedModelError)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="file not found"):
        read_gguf(tmp_path / "nope.gguf")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="is a directory"):
        read_gguf(tmp_path)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a non-root POSIX user")
def test_unreadable_file(tiny: Path, tmp_path: Path) -> None:
    locked = tmp_path / "locked.gguf"
    locked.write_bytes(tiny.read_bytes())
    locked.chmod(0)
    with pytest.raises(ModelFileError, match="permission denied"):
        read_gguf(locked)


def test_permission_error_on_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(gguf_file, "open", refuse, raising=False)  # shadows the builtin in the module
    with pytest.raises(ModelFileError, match="cannot read: permission denied"):
        read_gguf(tmp_path / "any.gguf")


def test_short_non_gguf_file_is_named_as_such(tmp_path: Path) -> None:
    text = tmp_path / "notes.gguf"
    text.write_bytes(b"hello")
    with pytest.raises(ModelFileError, match=r"not a GGUF file \(starts with b'hell'"):
        read_gguf(text)


def _write(path: Path, build: list[tuple[str, object]], alignment: int | None = None) -> GGUFInfo:
    writer = gguf.GGUFWriter(path, "llama")
    if alignment is not None:
        writer.add_custom_alignment(alignment)
    for method, value in build:
        getattr(writer, method)(value)
    writer.add_tensor("token_embd.weight", np.zeros((8, 64), dtype=np.float16))
    writer.add_tensor("output_norm.weight", np.ones(64, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return read_gguf(path)


def test_long_strings_are_summarized_but_the_chat_template_is_kept(tmp_path: Path) -> None:
    template = "{{ messages }}" + " " * 5000
    info = _write(tmp_path / "long.gguf", [("add_description", "d" * 3000), ("add_chat_template", template)])
    assert info.chat_template == template
    assert info.metadata["general.description"] == "[string x 3000 bytes]"
    assert info.metadata["tokenizer.chat_template"] == f"[string x {len(template)} bytes]"


def test_per_layer_head_counts_report_the_largest(tmp_path: Path) -> None:
    info = _write(tmp_path / "per-layer.gguf", [("add_head_count", [4, 8, 8]), ("add_block_count", 3)])
    assert info.head_count == 8
    assert info.head_count_kv == 8  # defaults to head_count
    assert info.metadata["llama.attention.head_count"] == "[int32 x 3]"


def test_without_file_type_the_dominant_tensor_type_names_the_quantization(tmp_path: Path) -> None:
    info = _write(tmp_path / "no-ftype.gguf", [])
    assert info.file_type is None
    assert info.quantization == "f16"
    assert info.vocab_size is None and info.chat_template is None and info.context_length is None


def test_custom_alignment(tmp_path: Path) -> None:
    info = _write(tmp_path / "aligned.gguf", [], alignment=256)
    assert all(t.offset % 256 == 0 for t in info.tensors)


def test_a_150k_vocabulary_header_reads(tmp_path: Path) -> None:
    n = 150_000
    writer = gguf.GGUFWriter(tmp_path / "big-vocab.gguf", "llama")
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list([f"token{i}" for i in range(n)])
    writer.add_token_types([1] * n)
    writer.add_tensor("token_embd.weight", np.zeros((4, 32), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()

    info = read_gguf(tmp_path / "big-vocab.gguf")
    assert info.vocab_size == n
    assert info.metadata["tokenizer.ggml.tokens"] == f"[string x {n}]"


def test_architecture_of_the_wrong_type(tmp_path: Path) -> None:
    writer = gguf.GGUFWriter(tmp_path / "arch-array.gguf", "llama")
    writer.add_array(gguf.Keys.General.ARCHITECTURE, ["llama"])
    writer.add_tensor("token_embd.weight", np.zeros((4, 32), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(ModelFileError, match=r"general\.architecture has type array, expected string"):
        read_gguf(tmp_path / "arch-array.gguf")


def _read_or_model_file_error(path: Path) -> None:
    try:
        read_gguf(path)
    except ModelFileError as error:
        assert error.problem


def test_any_damage_to_the_header_gives_a_model_file_error_or_a_valid_read(
    tiny: Path, tmp_path: Path
) -> None:
    good = tiny.read_bytes()
    header_end = read_gguf(tiny).tensors[0].offset
    damaged = tmp_path / "damaged.gguf"
    for cut in range(0, header_end + 64, 97):
        damaged.write_bytes(good[:cut])
        _read_or_model_file_error(damaged)
    damaged.write_bytes(good)
    rng = np.random.default_rng(0)
    with damaged.open("r+b") as f:
        for at in rng.integers(0, header_end, size=300):
            f.seek(at)
            f.write(bytes([good[at] ^ int(rng.integers(1, 256))]))
            f.flush()
            _read_or_model_file_error(damaged)
            f.seek(at)
            f.write(good[at : at + 1])
