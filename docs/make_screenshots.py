"""Screenshots of the real app under Xvfb, for the README and reviews.

Run: ``xvfb-run -a -s "-screen 0 1280x900x24" .venv/bin/python docs/make_screenshots.py``.
Everything shown is produced by the running app: models are generated with
the project's own tool (random weights, so replies are gibberish by design).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
from PySide6.QtWidgets import QApplication

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shot_tools import wait, wait_until

OUT = Path(__file__).resolve().parent / "screenshots"
EAT = "import sys; block = b'\\x01' * int(sys.argv[1]); print('ready', flush=True); sys.stdin.read()"


def main() -> int:
    home = Path(tempfile.mkdtemp(prefix="reflexia-shots-"))
    os.environ["REFLEXIA_HOME"] = str(home)
    # Short replies, so a whole exchange fits in the picture.
    (home / "config").mkdir(parents=True)
    # Pressure thresholds just above what the machine uses now, so that a child process
    # holding a few GB shows the governor at work (the same set-up as the integration test).
    high = max(10, math.ceil(psutil.virtual_memory().percent) + 4)
    config = {
        "sampling": {"max_tokens": 90, "seed": 4},
        "memory": {"high_pressure_percent": high, "critical_pressure_percent": high + 25, "dwell_seconds": 1},
    }
    (home / "config" / "config.json").write_text(json.dumps(config))
    from reflexia.app import build_app
    from reflexia.core.config.settings import load_settings
    from reflexia.core.models.model_factory import make_model
    from reflexia.core.models.quantizer import quantize_model
    from reflexia.ui.theme import apply_theme

    qt_app = QApplication(sys.argv)
    apply_theme(qt_app, "light")
    loaded = load_settings()
    app = build_app(loaded)
    window = app.window
    window.resize(1100, 760)
    window.show()
    OUT.mkdir(parents=True, exist_ok=True)
    wait(300)
    window.grab().save(str(OUT / "empty-state.png"))

    models = loaded.settings.models_dir()
    models.mkdir(parents=True, exist_ok=True)
    source = make_model(models / "reflexia-small-f16.gguf", size="small", seed=1)
    model = quantize_model(source, "q4_k_m")
    broken = models / "broken.gguf"
    broken.write_bytes(source.read_bytes()[:5000])
    window.refresh_models()
    wait_until(lambda: window.picker.count() > 4)
    app.load_model(broken)
    wait_until(lambda: window.banner.isVisible())
    wait(200)
    window.grab().save(str(OUT / "corrupt-model-error.png"))

    app.load_model(model)
    wait_until(lambda: app.inference.model is not None)
    window.composer.input.setPlainText("Write a haiku about running models locally.")
    window.composer.button.click()
    wait_until(lambda: not app.chat.is_replying)
    window.composer.input.setPlainText("Now explain it in a list, please.")
    window.composer.button.click()
    wait_until(lambda: not app.chat.is_replying)
    wait(300)
    window.grab().save(str(OUT / "chat.png"))

    # Another client (the quick prompt to come) is replying: the window's message waits its turn.
    from reflexia.core.engine.values import SamplingParams
    from reflexia.services.chat_session import ChatSession

    sampling = SamplingParams(max_tokens=100_000, seed=2)
    quick = ChatSession(app.inference, sampling, "Be brief.", client="quick")
    quick.send("Tell me everything about lighthouses")
    wait(300)
    window.composer.input.setPlainText("What should I cook tonight?")
    window.composer.button.click()
    wait(400)
    window.grab().save(str(OUT / "waiting-for-the-other-reply.png"))
    quick.stop()
    wait_until(lambda: app.chat.is_replying)
    app.chat.stop()
    wait_until(lambda: not app.chat.is_replying)

    # A conversation longer than the context: the oldest turns are left out, and the reply says so.
    window.new_chat()
    app.load_model(model, 512)
    wait_until(lambda: app.inference.model is not None and app.inference.model.context_length == 512)
    for index in range(6):
        window.composer.input.setPlainText(f"Part {index + 1} of my notes: " + "a long line of notes " * 8)
        window.composer.button.click()
        wait_until(lambda: not app.chat.is_replying)
    wait(300)
    window.grab().save(str(OUT / "context-left-out.png"))
    window.new_chat()

    # The model menu, open: families, rungs, sizes and fit verdicts (a screen grab shows the popup).
    window.picker.showPopup()
    wait(400)
    screen = QApplication.primaryScreen()
    screen.grabWindow(0).copy(window.frameGeometry()).save(str(OUT / "model-picker.png"))
    window.picker.hidePopup()

    # The governor: run f16, then a child process takes memory past the high threshold.
    app.load_model(source)
    wait_until(lambda: app.inference.model is not None and app.inference.model.quantization == "f16")
    wait(1500)
    memory = psutil.virtual_memory()
    size = int(memory.total * (high + 4) / 100 - (memory.total - memory.available))
    eater = subprocess.Popen(
        [sys.executable, "-c", EAT, str(size)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        wait_until(lambda: app.inference.model is not None and app.inference.model.quantization == "q4_k_m")
        wait(1500)
        window.grab().save(str(OUT / "governor-banner.png"))
    finally:
        eater.kill()
        eater.wait()
    # The everyday window: conversations in the sidebar, a role picked, the performance panel open.
    window.new_chat()
    app.roles.choose("Code Assistant")
    for question in ("Write a function that reverses a list.", "Now add type hints, please."):
        window.composer.input.setPlainText(question)
        window.composer.button.click()
        wait_until(lambda: not app.chat.is_replying)
    window.performance_dock.show()
    window.resize(1280, 800)
    wait(1500)
    window.grab().save(str(OUT / "window-light.png"))
    apply_theme(qt_app, "dark")
    wait(3000)  # restyling every widget of a long conversation takes a moment
    window.grab().save(str(OUT / "window-dark.png"))
    apply_theme(qt_app, "light")
    dialog = window.edit_roles()
    dialog.role_list.setCurrentRow(1)
    wait(300)
    dialog.grab().save(str(OUT / "roles-dialog.png"))
    dialog.close()
    app.shutdown()
    print(f"screenshots in {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
