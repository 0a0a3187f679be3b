"""Tests of the model library on real generated GGUF files and a fake Ollama store."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from reflexia.core.models.catalog import (
    Catalog,
    ModelFamily,
    precision_rank,
    scan_catalog,
    strip_quantization_suffix,
)
from reflexia.core.models.gguf_file import read_gguf
from reflexia.core.models.ladder import LADDER
from reflexia.core.models.quantizer import quantize_model


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory, tiny_f16_model: Path, small_model: Path) -> Path:
    """tiny at f16, q4_0, q4_k_m and q8_0; small at q4_k_m in a sub-folder; two bad files."""
    folder = tmp_path_factory.mktemp("library")
    tiny = Path(shutil.copy(tiny_f16_model, folder / "tiny-f16.gguf"))
    for rung in ("q4_0", "q4_k_m", "q8_0"):
        quantize_model(tiny, rung)
    (folder / "more").mkdir()
    shutil.copy(small_model, folder / "more" / "small-q4_k_m.gguf")
    data = tiny.read_bytes()
    (folder / "broken-q4_0.gguf").write_bytes(data[: len(data) // 2])
    (folder / "notes.gguf").write_text("these are not weights\n")
    return folder


def scan(*folders: Path, ollama: Path | None = None, lmstudio: list[Path] | None = None) -> Catalog:
    return scan_catalog(list(folders), ollama_dir=ollama, lmstudio_dirs=lmstudio)


def family(catalog: Catalog, name: str) -> ModelFamily:
    found = catalog.find(name)
    assert found is not None, f"no family {name!r} in {[f.key for f in catalog.families]}"
    return found


def test_groups_the_rungs_of_one_model_into_a_family(library: Path) -> None:
    catalog = scan(library)

    assert [f.display_name for f in catalog.families] == ["small", "tiny"]  # as the files are named
    tiny = family(catalog, "reflexia-tiny")
    assert tiny.key == "reflexia-tiny"
    assert tiny.architecture == "llama"
    assert tiny.rungs() == ("q4_0", "q4_k_m", "q8_0", "f16")
    assert [f.path.name for f in tiny.files] == [
        "tiny-q4_0.gguf",
        "tiny-q4_k_m.gguf",
        "tiny-q8_0.gguf",
        "tiny-f16.gguf",
    ]
    # Quantizing keeps every tensor's element count: no tolerance is needed to group them.
    assert {f.info.parameter_count for f in tiny.files if f.info} == {tiny.parameter_count}
    assert tiny.parameter_count == read_gguf(library / "tiny-f16.gguf").parameter_count
    assert all(f.source == "models_dir" and not f.read_only and f.error is None for f in tiny.files)
    bits = [f.bits_per_weight for f in tiny.files]
    assert bits == sorted(bits)  # type: ignore[type-var]
    assert tiny.files[-1].bits_per_weight == pytest.approx(16, abs=0.1)


def test_best_source_and_the_rungs_it_could_make(library: Path) -> None:
    catalog = scan(library)
    tiny = family(catalog, "reflexia-tiny")

    best = tiny.best_source()
    assert best is not None and best.path.name == "tiny-f16.gguf"
    assert tiny.missing_ladder_rungs() == ("q5_k_m",)
    file = tiny.file_for("Q8_0")
    assert file is not None and file.path.name == "tiny-q8_0.gguf"
    assert tiny.file_for("q5_k_m") is None

    small = family(catalog, "reflexia-small")
    assert small.rungs() == ("q4_k_m",)
    small_best = small.best_source()
    assert small_best is not None and small_best.path.name == "small-q4_k_m.gguf"
    assert small.missing_ladder_rungs() == ("q4_0",)


def test_a_family_whose_best_file_is_the_lowest_rung_has_no_source(library: Path, tmp_path: Path) -> None:
    shutil.copy(library / "tiny-q4_0.gguf", tmp_path)

    only = scan(tmp_path).families[0]

    assert only.rungs() == ("q4_0",)
    assert only.best_source() is None
    assert only.missing_ladder_rungs() == ()


def test_unreadable_files_are_listed_with_their_reasons(library: Path) -> None:
    catalog = scan(library)

    reasons = {f.path.name: f.error for f in catalog.unreadable}
    assert set(reasons) == {"broken-q4_0.gguf", "notes.gguf"}
    assert "truncated" in (reasons["broken-q4_0.gguf"] or "")
    assert "not a GGUF file" in (reasons["notes.gguf"] or "")
    assert all(f.info is None and f.quantization is None for f in catalog.unreadable)


def test_a_rescan_sees_a_new_file(library: Path, tmp_path: Path) -> None:
    folder = tmp_path / "models"
    folder.mkdir()
    source = Path(shutil.copy(library / "tiny-f16.gguf", folder))
    assert family(scan(folder), "reflexia-tiny").missing_ladder_rungs() == LADDER[:-1]

    quantize_model(source, "q5_k_m")

    tiny = family(scan(folder), "reflexia-tiny")
    assert tiny.rungs() == ("q5_k_m", "f16")
    assert tiny.missing_ladder_rungs() == ("q4_0", "q4_k_m", "q8_0")


def write_manifest(store: Path, name: str, layers: Sequence[Mapping[str, object]]) -> None:
    path = store / "manifests" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"schemaVersion": 2, "layers": [dict(layer) for layer in layers]}))


def add_ollama_model(store: Path, name: str, model: Path) -> Path:
    """Put a real GGUF into a fake Ollama store the way Ollama lays it out."""
    data = model.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    blob = store / "blobs" / f"sha256-{digest}"
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(data)
    template = {"mediaType": "application/vnd.ollama.image.template", "digest": "sha256:" + "0" * 64}
    model_layer = {"mediaType": "application/vnd.ollama.image.model", "digest": f"sha256:{digest}"}
    write_manifest(store, name, [template, model_layer])
    return blob


def test_finds_ollama_models_through_their_manifests(library: Path, tmp_path: Path) -> None:
    store = tmp_path / "ollama"
    blob = add_ollama_model(store, "registry.ollama.ai/library/tinyllm/latest", library / "tiny-q4_k_m.gguf")
    add_ollama_model(store, "registry.ollama.ai/someone/small/q4", library / "more" / "small-q4_k_m.gguf")
    write_manifest(store, "registry.ollama.ai/library/projector/latest", [])
    missing = {"mediaType": "application/vnd.ollama.image.model", "digest": "sha256:" + "a" * 64}
    write_manifest(store, "registry.ollama.ai/library/gone/latest", [missing])

    catalog = scan(library, ollama=store)

    tiny = family(catalog, "reflexia-tiny")
    from_ollama = [f for f in tiny.files if f.source == "ollama"]
    assert len(from_ollama) == 1
    assert from_ollama[0].display_name == "tinyllm:latest"
    assert from_ollama[0].path == blob
    assert from_ollama[0].read_only
    assert from_ollama[0].quantization == "q4_k_m"
    # The same rung in the models folder is the one the app may modify.
    chosen = tiny.file_for("q4_k_m")
    assert chosen is not None and chosen.source == "models_dir"
    assert catalog.find("tinyllm:latest") is tiny
    assert any(f.display_name == "someone/small:q4" for f in family(catalog, "reflexia-small").files)
    reasons = {f.display_name: f.error or "" for f in catalog.unreadable if f.source == "ollama"}
    assert "no model layer" in reasons["projector:latest"]
    assert "file not found" in reasons["gone:latest"]


def test_lm_studio_files_are_read_only(library: Path, tmp_path: Path) -> None:
    lmstudio = tmp_path / "lmstudio"
    (lmstudio / "someone" / "tiny").mkdir(parents=True)
    shutil.copy(library / "tiny-q8_0.gguf", lmstudio / "someone" / "tiny" / "tiny-Q8_0.gguf")

    catalog = scan(ollama=None, lmstudio=[lmstudio, tmp_path / "not-installed"])

    (only,) = catalog.families
    (file,) = only.files
    assert (file.source, file.read_only, file.display_name) == ("lmstudio", True, "tiny-Q8_0")


def test_a_file_reachable_twice_is_listed_once(library: Path, tmp_path: Path) -> None:
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "alias.gguf").symlink_to(library / "tiny-f16.gguf")

    catalog = scan(library, library, linked, lmstudio=[library])

    files = [f for fam in catalog.families for f in fam.files]
    paths = [f.path.resolve() for f in files + list(catalog.unreadable)]
    assert len(paths) == len(set(paths)) == 7
    assert all(f.source == "models_dir" for f in files)


def test_find_by_key_name_or_path(library: Path) -> None:
    catalog = scan(library)
    tiny = family(catalog, "reflexia-tiny")

    assert catalog.find("REFLEXIA-TINY") is tiny
    assert catalog.find(library / "tiny-q8_0.gguf") is tiny
    assert catalog.find(str(library / "more" / "small-q4_k_m.gguf")) is family(catalog, "reflexia-small")
    assert catalog.find("tiny-q4_0") is tiny  # a file's display name
    assert catalog.find("no-such-model") is None
    assert catalog.find(library / "notes.gguf") is None


def test_a_scan_of_missing_folders_is_empty(tmp_path: Path) -> None:
    catalog = scan(tmp_path / "nowhere", ollama=tmp_path / "no-ollama", lmstudio=[tmp_path / "no-lms"])

    assert catalog == Catalog((), ())


@pytest.mark.parametrize(
    ("stem", "base"),
    [
        ("Llama-3-8B-Instruct-Q4_K_M", "Llama-3-8B-Instruct"),
        ("mistral-7b-instruct-v0.2.Q8_0", "mistral-7b-instruct-v0.2"),
        ("phi-3-mini-f16", "phi-3-mini"),
        ("qwen2-7b_q5_K_M", "qwen2-7b"),
        ("gemma-2-9b-it-IQ4_XS", "gemma-2-9b-it"),
        ("Qwen3-30B-A3B-UD-Q4_K_XL", "Qwen3-30B-A3B"),
        ("model-bf16", "model"),
        ("ggml-model-q4_0", "ggml-model"),
        ("tinyllama.Q3_K_S", "tinyllama"),
        ("Llama-3-8B", "Llama-3-8B"),
        ("Q4_K_M", "Q4_K_M"),
        ("mixtral-q6_k", "mixtral"),
    ],
)
def test_strip_quantization_suffix(stem: str, base: str) -> None:
    assert strip_quantization_suffix(stem) == base


def test_quantizations_rank_by_precision() -> None:
    labels = ["f16", "q8_0", "q4_0", "q5_k_m", "q4_k_m", "q6_k", "Q3_K_M", "iq4_xs", "bf16", "f32", "q2_k"]

    ranked = sorted(labels, key=precision_rank)

    assert ranked == [
        "q2_k",
        "Q3_K_M",
        "iq4_xs",
        "q4_0",
        "q4_k_m",
        "q5_k_m",
        "q6_k",
        "q8_0",
        "bf16",
        "f16",
        "f32",
    ]
    assert sorted(LADDER, key=precision_rank) == list(LADDER)
