"""Tests of the model generator and quantizer, including llama.cpp loading the results."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import gguf
import llama_cpp
import pytest

from reflexia.core.errors import ModelFileError, QuantizationError
from reflexia.core.models.gguf_file import read_gguf
from reflexia.core.models.ladder import LADDER as QUANT_RUNGS
from reflexia.core.models.model_factory import (
    CHATML_TEMPLATE,
    MODEL_SIZES,
    build_vocabulary,
    make_model,
)
from reflexia.core.models.quantizer import quantize_model


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def tiny(models_dir: Path) -> Path:
    return make_model(models_dir / "tiny-f16.gguf", "tiny", seed=0)


@pytest.fixture(scope="module")
def quantized(tiny: Path) -> dict[str, Path]:
    return {rung: quantize_model(tiny, rung) for rung in QUANT_RUNGS}


def test_shapes_suit_k_quants_and_the_size_targets() -> None:
    for shape in MODEL_SIZES.values():
        assert shape.embedding_length % 256 == 0
        assert shape.feed_forward_length % 256 == 0
        assert shape.embedding_length % shape.head_count == 0
        assert shape.head_count % shape.head_count_kv == 0
    f16_mb = {name: shape.parameter_count() * 2 / 1e6 for name, shape in MODEL_SIZES.items()}
    assert 1 < f16_mb["tiny"] < 8
    assert 10 < f16_mb["small"] < 100
    assert 150 < f16_mb["medium"] < 400


def test_parameter_count_matches_the_shape() -> None:
    for shape in MODEL_SIZES.values():
        e, f, v = shape.embedding_length, shape.feed_forward_length, shape.vocab_size
        kv = e // shape.head_count * shape.head_count_kv
        layer = 2 * e + 2 * e * e + 2 * e * kv + 3 * e * f
        assert shape.parameter_count() == 2 * v * e + e + shape.block_count * layer


def test_generated_file_has_the_shape(tiny: Path) -> None:
    shape = MODEL_SIZES["tiny"]
    info = read_gguf(tiny)
    assert info.parameter_count == shape.parameter_count()
    assert info.quantization == "f16"
    assert info.vocab_size == shape.vocab_size
    assert info.context_length == shape.context_length
    assert info.chat_template == CHATML_TEMPLATE
    assert info.metadata["tokenizer.ggml.model"] == "llama"
    assert info.metadata["tokenizer.ggml.eot_token_id"] == 4
    assert info.metadata["tokenizer.ggml.add_eos_token"] is False
    assert 2_000_000 < info.file_size < 5_000_000
    names = {t.name for t in info.tensors}
    assert {"token_embd.weight", "output_norm.weight", "output.weight", "blk.1.ffn_down.weight"} <= names


def test_same_seed_same_bytes_other_seed_other_bytes(tiny: Path, tmp_path: Path) -> None:
    again = make_model(tmp_path / "again.gguf", "tiny", seed=0)
    other = make_model(tmp_path / "other.gguf", "tiny", seed=1)
    assert again.read_bytes() == tiny.read_bytes()
    assert other.read_bytes() != tiny.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again.gguf", "other.gguf"]  # no temp files left


def test_unknown_size(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown model size"):
        make_model(tmp_path / "x.gguf", "huge")


def test_vocabulary_layout() -> None:
    tokens, scores, types = build_vocabulary(1024)
    assert len(tokens) == len(scores) == len(types) == 1024
    assert len(set(tokens)) == 1024
    assert tokens[:5] == ["<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"]
    assert types[:5] == [gguf.TokenType.UNKNOWN] + [gguf.TokenType.CONTROL] * 4
    assert tokens[5] == "<0x00>" and tokens[260] == "<0xFF>"
    assert set(types[5:261]) == {gguf.TokenType.BYTE}
    assert set(types[261:]) == {gguf.TokenType.NORMAL}
    pieces = tokens[261:]
    assert "▁the" in pieces and "▁and" in pieces and "a" in pieces
    assert scores[tokens.index("▁the")] > scores[tokens.index("▁th")] > scores[tokens.index("▁t")]
    word_pieces = [p for p in pieces if len(p) > 1]
    assert all(p[:-1] in pieces for p in word_pieces)  # every piece can be built by merges
    assert build_vocabulary(1024) == (tokens, scores, types)
    assert build_vocabulary(8192)[0][:1024] == tokens  # padding only appends


@pytest.mark.parametrize("rung", QUANT_RUNGS)
def test_quantize_every_rung(quantized: dict[str, Path], tiny: Path, rung: str) -> None:
    path = quantized[rung]
    expected_name = "tiny-f16-f16.gguf" if rung == "f16" else f"tiny-{rung}.gguf"
    assert path == tiny.with_name(expected_name)
    info = read_gguf(path)
    assert info.quantization == rung
    assert info.parameter_count == read_gguf(tiny).parameter_count
    if rung != "f16":
        assert path.stat().st_size < tiny.stat().st_size


def test_quantized_tensor_mix(quantized: dict[str, Path]) -> None:
    mix = read_gguf(quantized["q4_k_m"]).tensor_type_bytes
    assert next(iter(mix)) == "q4_k"
    assert "q6_k" in mix  # q4_k_m keeps some tensors at q6_k


def test_quantize_to_an_explicit_path(tiny: Path, tmp_path: Path) -> None:
    out = quantize_model(tiny, "q8_0", tmp_path / "sub" / "chosen.gguf")
    assert out == tmp_path / "sub" / "chosen.gguf"
    assert read_gguf(out).quantization == "q8_0"
    assert [p.name for p in out.parent.iterdir()] == ["chosen.gguf"]


def test_quantize_rejects_bad_requests(tiny: Path, quantized: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(QuantizationError, match="unknown quantization 'q3_x'"):
        quantize_model(tiny, "q3_x")
    with pytest.raises(QuantizationError, match=r"already quantized \(q4_k_m\)"):
        quantize_model(quantized["q4_k_m"], "q8_0", tmp_path / "re.gguf")
    with pytest.raises(QuantizationError, match="overwrite its source"):
        quantize_model(tiny, "q8_0", tiny)
    with pytest.raises(ModelFileError, match="file not found"):
        quantize_model(tmp_path / "missing-f16.gguf", "q8_0")


def test_failed_quantization_leaves_nothing_behind(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(llama_cpp, "llama_model_quantize", lambda *args: 1)
    with pytest.raises(QuantizationError, match="could not quantize to q4_0"):
        quantize_model(tiny, "q4_0", tmp_path / "out.gguf")
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def chat() -> Iterator[list[llama_cpp.Llama]]:
    opened: list[llama_cpp.Llama] = []
    yield opened
    for llm in opened:
        llm.close()


@pytest.mark.parametrize("rung", ["f16-source", "q4_k_m"])
def test_llama_cpp_loads_and_chats(
    tiny: Path, quantized: dict[str, Path], chat: list[llama_cpp.Llama], rung: str
) -> None:
    path = tiny if rung == "f16-source" else quantized[rung]
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=512, verbose=False, seed=0)
    chat.append(llm)
    assert llm.tokenize(b"<|im_start|>", add_bos=False, special=True) == [3]
    assert llm.tokenize(b"hello the world", add_bos=True)[0] == 1
    reply = llm.create_chat_completion(messages=[{"role": "user", "content": "hi"}], max_tokens=8)
    assert isinstance(reply, dict)  # not a stream
    assert reply["usage"]["completion_tokens"] > 0
    assert isinstance(reply["choices"][0]["message"]["content"], str)
