"""Screenshots of what the macOS fixes show, taken here under Xvfb (the Mac's own look cannot be).

- ``partial-offload.png``: the window at its default size after loading a model whose layers do not
  all fit Metal's working set (the budget is set as on such a Mac): the banner says what runs where.
- ``settings-shortcut-refused.png``: Settings › Menubar when macOS refused the global shortcut.
- ``menubar-icons.png``: the status item's four template icons at their Retina size (36 px for
  18 pt), on the light and the dark menubar, drawn four times larger to be seen.

Run: ``xvfb-run -a -s "-screen 0 1440x900x24" .venv/bin/python docs/make_macos_screenshots.py``.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPixmap
from PySide6.QtWidgets import QApplication

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shot_tools import wait, wait_until

OUT = Path(__file__).resolve().parent / "screenshots"
GB = 1024**3


def _icon_sheet() -> QPixmap:
    from reflexia.ui.tray_agent import state_icon

    states = ("idle", "loading", "generating", "pressure")
    scale, cell = 4, 36 * 4 + 24
    sheet = QPixmap(cell * len(states), cell * 2)
    painter = QPainter(sheet)
    for row, (bar, ink) in enumerate(((QColor("#ececec"), "black"), (QColor("#2b2b2b"), "white"))):
        painter.fillRect(0, row * cell, sheet.width(), cell, bar)
        for column, state in enumerate(states):
            retina = state_icon(state, template=True).pixmap(QSize(18, 18), 2.0)  # type: ignore[arg-type]
            image = retina.toImage()
            if ink == "white":  # macOS draws a template icon in the menubar's own colour
                image.invertPixels()
            image.setDevicePixelRatio(1)  # drawn pixel for pixel, four times larger
            big = QPixmap.fromImage(image).scaled(36 * scale, 36 * scale, Qt.AspectRatioMode.KeepAspectRatio)
            painter.drawPixmap(column * cell + 12, row * cell + 12, big)
    painter.end()
    return sheet


def main() -> int:
    home = Path(tempfile.mkdtemp(prefix="reflexia-macos-shots-"))
    os.environ["REFLEXIA_HOME"] = str(home)
    from reflexia.app import build_app
    from reflexia.core.config.settings import load_settings
    from reflexia.core.memory.estimate import MemoryBudget, check_fit, estimate_memory, gpu_bytes
    from reflexia.core.models.gguf_file import read_gguf
    from reflexia.core.models.model_factory import make_model
    from reflexia.core.models.quantizer import quantize_model
    from reflexia.ui.settings_dialog import SettingsDialog
    from reflexia.ui.theme import apply_theme

    qt_app = QApplication(sys.argv)
    apply_theme(qt_app, "light")
    loaded = load_settings()
    app = build_app(loaded)
    window = app.window
    window.show()
    OUT.mkdir(parents=True, exist_ok=True)
    models = loaded.settings.models_dir()
    models.mkdir(parents=True, exist_ok=True)
    model = quantize_model(make_model(models / "reflexia-small-f16.gguf", size="small", seed=1), "q4_k_m")
    window.refresh_models()
    wait_until(lambda: window.picker.count() > 1)
    info = read_gguf(model)
    # As on a Mac whose working set holds the whole model only at a 1024-token context: below
    # 2048 tokens Reflexia keeps the context and runs some layers on the CPU instead.
    context = loaded.settings.model.context_length
    ceiling = gpu_bytes(info, estimate_memory(info, 1024, gpu_layers=-1), -1)
    fit = check_fit(
        info, context, MemoryBudget(16 * GB, 10 * GB, 85, GB, gpu_working_set_bytes=ceiling), gpu_layers=-1
    )
    window._on_file_checked(model, fit)
    wait_until(lambda: app.inference.model is not None)
    wait(400)
    window.grab().save(str(OUT / "partial-offload.png"))
    print(f"window {window.width()}x{window.height()}: {fit.message}")

    refused = (
        "Ctrl+Shift+Space could not be registered for every app (eventHotKeyExistsErr: another app holds "
        "it); it works while Reflexia is in front."
    )
    dialog = SettingsDialog(app.store, window, {"agent.quick_prompt_shortcut": refused})
    dialog.show_page("Menubar")
    dialog.show()
    wait(400)
    dialog.grab().save(str(OUT / "settings-shortcut-refused.png"))
    dialog.close()
    _icon_sheet().save(str(OUT / "menubar-icons.png"))
    app.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
