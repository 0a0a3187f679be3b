"""The model menu says which models are base (completion) models."""

from __future__ import annotations

import shutil
from pathlib import Path

from pytestqt.qtbot import QtBot

from reflexia.core.config.settings import load_settings
from reflexia.services.model_library import build_snapshot
from reflexia.ui.model_picker import ModelPicker


def test_a_model_without_a_chat_template_is_marked_base_model(
    qtbot: QtBot, tmp_path: Path, gemma3_model: Path, tiny_model: Path
) -> None:
    (tmp_path / "gemma-3-270m-q4_k_m.gguf").symlink_to(gemma3_model)
    shutil.copy(tiny_model, tmp_path / "tiny-q4_k_m.gguf")
    picker = ModelPicker()
    qtbot.addWidget(picker)

    snapshot = build_snapshot(tmp_path, load_settings().settings)
    picker.set_entries(
        [(e.label, e.report.path, e.report.message) for e in snapshot.entries if e.report.path]
    )

    labels = [picker.itemText(i) for i in range(picker.count())]
    assert [label for label in labels if "base model" in label] == [
        next(label for label in labels if label.startswith("gemma-3-270m"))
    ]
    assert any(label.startswith("tiny") and "base model" not in label for label in labels)
