"""display_name: a model is called what people call it, not what its metadata happens to say."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from reflexia.core.models import catalog, naming
from reflexia.core.models.gguf_file import GGUFInfo, read_gguf
from reflexia.core.models.model_factory import make_model
from reflexia.core.models.naming import display_name

DIGEST = "sha256-" + "0123456789abcdef" * 4


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> GGUFInfo:
    """Metadata of a real generated file, to vary one field at a time."""
    return read_gguf(make_model(tmp_path_factory.mktemp("naming") / "tiny.gguf", size="tiny", seed=0))


def info_with(base: GGUFInfo, name: str | None = None, **general: object) -> GGUFInfo:
    """``base`` with ``general.name`` set to ``name`` and ``general.<key>`` set to each of ``general``."""
    metadata = {k: v for k, v in base.metadata.items() if not k.startswith("general.")}
    metadata.update({f"general.{key}": value for key, value in general.items()})
    if name is not None:
        metadata["general.name"] = name
    return dataclasses.replace(base, name=name, metadata=metadata)


def test_the_stores_name_comes_first(generated: GGUFInfo) -> None:
    info = info_with(generated, "Llama 3.2 3B Instruct", basename="Llama-3.2", size_label="3B")

    assert display_name(info, Path(DIGEST), "llama3.2:3b") == "llama3.2:3b"
    assert display_name(info, Path("Llama-3.2-3B-Q4_K_M.gguf"), "hf.co/someone/llama:Q4_K_M") == (
        "hf.co/someone/llama:Q4_K_M"
    )
    assert display_name(info, Path("Llama-3.2-3B-Q4_K_M.gguf"), "  ") == "Llama-3.2-3B"


@pytest.mark.parametrize(
    ("file_name", "expected"),
    [
        ("Llama-3-8B-Instruct-Q4_K_M.gguf", "Llama-3-8B-Instruct"),
        ("mistral-7b-instruct-v0.2.Q8_0.gguf", "mistral-7b-instruct-v0.2"),
        ("Qwen3-30B-A3B-UD-Q4_K_XL.gguf", "Qwen3-30B-A3B"),
        ("Qwen2.5-72B-Instruct-Q4_K_M-00001-of-00002.gguf", "Qwen2.5-72B-Instruct"),
        ("tinyllama.gguf", "tinyllama"),
        ("Phi-3-mini.GGUF", "Phi-3-mini"),
        ("my-model-f16.gguf", "my-model"),  # "model" inside a longer name is still a name
    ],
)
def test_a_file_name_that_names_the_model_wins_over_metadata(
    generated: GGUFInfo, file_name: str, expected: str
) -> None:
    info = info_with(generated, "Odd Training Run 7", basename="other", size_label="1B", finetune="chat")

    assert display_name(info, Path("/models") / file_name) == expected


@pytest.mark.parametrize(
    "file_name",
    [
        DIGEST,  # an Ollama blob
        DIGEST.replace("-", ":", 1),
        "0123456789abcdef0123456789abcdef.gguf",  # a bare digest
        "model.gguf",
        "Model-Q4_K_M.gguf",
        "ggml-model.gguf",
        "ggml-model-f16.gguf",
        "ggml_model-q4_0.gguf",
        "model-00001-of-00002.gguf",
        "ggml-model-Q8_0-00002-of-00003.gguf",
        "unsloth.Q4_K_M.gguf",
        "Q4_K_M.gguf",  # nothing but a quantization tag
        "2024-06-01.gguf",  # no letter
    ],
)
def test_a_file_name_that_is_not_a_name_yields_to_metadata(generated: GGUFInfo, file_name: str) -> None:
    info = info_with(
        generated, "Qwen2.5 7B Instruct", basename="Qwen2.5", size_label="7B", finetune="Instruct"
    )

    assert display_name(info, Path("/store") / file_name) == "Qwen2.5-7B-Instruct"


@pytest.mark.parametrize(
    ("general", "expected"),
    [
        ({"basename": "smollm2", "size_label": "135M", "finetune": "Instruct"}, "smollm2-135M-Instruct"),
        ({"basename": "Mistral-Nemo", "finetune": "Instruct-2407"}, "Mistral-Nemo-Instruct-2407"),
        ({"basename": "gemma-2", "size_label": "9B"}, "gemma-2-9B"),
        ({"basename": " phi-4 ", "size_label": "", "finetune": 3}, "phi-4"),  # blanks and non-text skipped
        ({"size_label": "8B", "finetune": "Instruct"}, "Run 42"),  # no basename: general.name
        (
            {"basename": "[string x 2048 bytes]", "size_label": "8B"},
            "Run 42",
        ),  # a value the reader summarized
    ],
)
def test_metadata_names_the_model_from_basename_size_and_finetune(
    generated: GGUFInfo, general: dict[str, object], expected: str
) -> None:
    info = info_with(generated, "Run 42", **general)

    assert display_name(info, Path("model.gguf")) == expected


def test_general_name_comes_before_the_raw_file_name(generated: GGUFInfo) -> None:
    assert display_name(info_with(generated, "Llama 3 8B"), Path(DIGEST)) == "Llama 3 8B"
    assert display_name(info_with(generated, "  "), Path(DIGEST)) == DIGEST


@pytest.mark.parametrize(
    ("file_name", "expected"),
    [
        (DIGEST, DIGEST),
        ("model-00001-of-00002.gguf", "model-00001-of-00002"),
        ("ggml-model-f16.gguf", "ggml-model-f16"),
    ],
)
def test_without_any_name_the_raw_file_name_is_used(
    generated: GGUFInfo, file_name: str, expected: str
) -> None:
    assert display_name(info_with(generated), Path("/store") / file_name) == expected


def test_a_generated_model_is_named_by_its_file(generated: GGUFInfo) -> None:
    assert display_name(generated, Path(generated.path)) == "tiny"


def test_smollm2_is_named_as_published(smollm2_model: Path) -> None:
    info = read_gguf(smollm2_model)

    assert info.name == "Smollm2 135M 8k Lc100K Mix1 Ep2"  # a training run's label, not a model name
    assert display_name(info, smollm2_model) == "SmolLM2-135M-Instruct"


def test_smollm2_under_a_generic_file_name_is_named_from_its_metadata(
    smollm2_model: Path, tmp_path: Path
) -> None:
    link = tmp_path / "ggml-model-q4_1.gguf"
    link.symlink_to(smollm2_model)

    assert display_name(read_gguf(link), link) == "smollm2-135M-8k-lc100k-mix1-ep2"


def test_strip_quantization_suffix_has_one_definition() -> None:
    assert catalog.strip_quantization_suffix is naming.strip_quantization_suffix
