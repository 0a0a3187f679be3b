"""A model the GPU working set cannot hold whole loads with the layers that fit; the window says so."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from reflexia.core.memory.estimate import MemoryBudget, check_fit, estimate_memory, gpu_bytes
from reflexia.core.models.gguf_file import read_gguf

GB = 1024**3


def test_the_window_loads_the_layers_that_fit_and_says_so(
    qtbot: QtBot, make_app, tiny_f16_model: Path
) -> None:
    app = make_app()
    info = read_gguf(tiny_f16_model)
    # As on a Mac whose GPU working set holds one of the model's two layers.
    one_layer = gpu_bytes(info, estimate_memory(info, 2048, gpu_layers=-1), 1)
    budget = MemoryBudget(64 * GB, 48 * GB, 100, 0, gpu_working_set_bytes=one_layer)
    fit = check_fit(info, 2048, budget, gpu_layers=-1)
    assert fit.verdict == "fits" and fit.gpu_layers == 1
    with qtbot.waitSignal(app.inference.model_loaded, timeout=60_000) as loaded:
        app.window._on_file_checked(tiny_f16_model, fit)
    assert loaded.args[1].gpu_layers == 1  # what llama.cpp was asked to offload
    text = app.window.banner.label.text()
    assert "Loaded partly on the GPU" in text and "1 of 2 layers run on the GPU" in text
