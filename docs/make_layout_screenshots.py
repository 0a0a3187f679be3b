"""Screenshots of the window at its default size with each dock open, under Xvfb.

Run: ``xvfb-run -a -s "-screen 0 1440x900x24" .venv/bin/python docs/make_layout_screenshots.py [OUT]``.
The window keeps the size it opens at when no geometry is saved (nothing is resized here), so
the pictures show what a new user meets: the header, the model menu and a reply's stats line.
The model is generated with the project's own tool (random weights: the reply is gibberish).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from PySide6.QtWidgets import QApplication

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shot_tools import wait, wait_until


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "screenshots"
    home = Path(tempfile.mkdtemp(prefix="reflexia-layout-shots-"))
    os.environ["REFLEXIA_HOME"] = str(home)
    (home / "config").mkdir(parents=True)
    config = {"sampling": {"max_tokens": 40, "seed": 4}}
    (home / "config" / "config.json").write_text(json.dumps(config))
    from reflexia.app import build_app
    from reflexia.core.config.settings import load_settings
    from reflexia.core.models.model_factory import make_model
    from reflexia.core.models.quantizer import quantize_model
    from reflexia.ui.theme import apply_theme

    qt_app = QApplication(sys.argv)
    apply_theme(qt_app, "light")
    loaded = load_settings()
    models = loaded.settings.models_dir()
    models.mkdir(parents=True, exist_ok=True)
    source = make_model(models / "reflexia-small-f16.gguf", size="small", seed=1)
    model = quantize_model(source, "q4_k_m")
    app = build_app(loaded)
    window = app.window
    window.show()
    wait_until(lambda: window.picker.count() > 3)
    app.load_model(model)
    wait_until(lambda: app.inference.model is not None)
    app.roles.choose("Code Assistant")
    window.composer.input.setPlainText("Write a function that reverses a list.")
    window.composer.button.click()
    wait_until(lambda: len(app.chat.conversation.turns) >= 1 and bool(window.chat_view.bubbles[-1].text))
    wait(300)
    app.chat.stop()  # a stopped reply: its stats line is the longest a user commonly sees
    wait_until(lambda: not app.chat.is_replying)
    out.mkdir(parents=True, exist_ok=True)
    print(f"window {window.width()}x{window.height()} (its default size)")
    wait(500)
    window.grab().save(str(out / "window-with-sidebar.png"))
    docks = {"documents": window.documents_dock, "performance": window.performance_dock}
    for name, dock in docks.items():
        assert dock is not None
        dock.show()
        wait(800)
        window.grab().save(str(out / f"window-with-{name}-dock.png"))
        dock.hide()
    app.shutdown()
    print(f"screenshots in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
