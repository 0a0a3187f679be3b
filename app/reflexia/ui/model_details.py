"""A model's details, as peers show them: architecture, size, trained context, template, file.

Everything comes from the GGUF header the library already read (no file is opened here); every
value is GGUF metadata, so it is shown as plain text.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from reflexia.core.engine.values import ModelInfo
from reflexia.core.models.gguf_file import GGUFInfo
from reflexia.core.units import human_size
from reflexia.ui.markup import plain_label, shown


def _parameters(count: int) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if count >= size:
            return f"{count / size:.1f}{unit}"
    return str(count)


def detail_rows(model: ModelInfo, header: GGUFInfo | None) -> list[tuple[str, str]]:
    """The lines of the dialog, as (title, value)."""
    rows = [
        ("Name", model.name),
        ("Architecture", model.architecture),
        ("Parameters", _parameters(model.parameter_count)),
        ("Quantization", model.quantization),
        ("File size", human_size(model.file_size)),
        ("Context in use", f"{model.context_length:,} tokens"),
        (
            "Trained context",
            f"{model.trained_context_length:,} tokens" if model.trained_context_length else "unknown",
        ),
        ("Runs on", f"{model.backend}, {model.threads} threads, {model.gpu_layers} layers offloaded"),
    ]
    if header is not None:
        rows.append(("Layers", str(header.block_count or "unknown")))
        kind = "chat model (its own template)" if header.chat_template else "base model: no chat template"
        rows.append(("Kind", kind))
    rows.append(("File", str(model.path) if model.path is not None else str(model.ref)))
    return rows


class ModelDetailsDialog(QDialog):
    """The loaded model's details and its chat template, selectable to copy."""

    def __init__(self, model: ModelInfo, header: GGUFInfo | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("modelDetails")
        self.setWindowTitle("Model details")
        self.resize(560, 440)
        form = QFormLayout()
        self.values: dict[str, QLabel] = {}
        for title, value in detail_rows(model, header):
            label = plain_label(shown(value, limit=400))
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            form.addRow(title, label)
            self.values[title] = label
        column = QVBoxLayout(self)
        column.addLayout(form)
        self.template = QPlainTextEdit()
        self.template.setReadOnly(True)
        self.template.setPlainText((header.chat_template or "") if header is not None else "")
        self.template.setPlaceholderText("No chat template: Reflexia writes a plain transcript for it.")
        column.addWidget(QLabel("Chat template"))
        column.addWidget(self.template, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        column.addWidget(buttons)
