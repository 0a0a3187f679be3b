"""Screenshots of the menubar agent: its menu and the quick prompt, under Xvfb with a system tray.

Run: ``xvfb-run -a -s "-screen 0 1280x800x24" bash -c
"trayer --edge top --align right --widthtype request --height 24 & sleep 1;
.venv/bin/python docs/make_agent_screenshots.py MODEL"`` where MODEL is SmolLM2-135M-Instruct's GGUF.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QPoint, QRect
from PySide6.QtWidgets import QApplication

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shot_tools import wait, wait_until

OUT = Path(__file__).resolve().parent / "screenshots"


def main() -> int:
    model = Path(sys.argv[1])
    home = Path(tempfile.mkdtemp(prefix="reflexia-agent-shots-"))
    os.environ["REFLEXIA_HOME"] = str(home)
    (home / "config").mkdir(parents=True)
    config = {"sampling": {"max_tokens": 80, "temperature": 0, "repeat_penalty": 1.0}}
    (home / "config" / "config.json").write_text(json.dumps(config))
    from reflexia.app import build_app
    from reflexia.core.config.settings import load_settings
    from reflexia.desktop import DesktopAgent
    from reflexia.services.single_instance import SingleInstance
    from reflexia.ui.theme import apply_theme

    qt_app = QApplication(sys.argv)
    apply_theme(qt_app, "light")
    app = build_app(load_settings())
    agent = DesktopAgent(app, qt_app, SingleInstance("reflexia-shots"))
    print(f"tray: {agent.has_tray}")
    app.load_model(model)
    wait_until(lambda: app.inference.model is not None)
    wait(1500)  # the status item settles in the tray
    OUT.mkdir(parents=True, exist_ok=True)
    screen = QApplication.primaryScreen()

    agent.open_quick_prompt()
    quick = app.quick_prompt
    wait(300)
    quick.input.setText("Write a haiku about a lighthouse.")
    quick.ask()
    wait_until(lambda: not app.quick_session.is_replying)
    wait(400)
    quick.grab().save(str(OUT / "quick-prompt.png"))
    area = quick.frameGeometry().adjusted(-40, -60, 40, 40)
    screen.grabWindow(0).copy(area).save(str(OUT / "quick-prompt-under-the-tray.png"))
    quick.hide()

    anchor = agent.tray.anchor()
    where = anchor.toRect().bottomLeft() if anchor is not None and not anchor.isEmpty() else QPoint(1000, 30)
    agent.tray.menu.popup(where + QPoint(-200, 4))
    wait(500)
    menu = agent.tray.menu.frameGeometry()
    screen.grabWindow(0).copy(menu.united(QRect(where, where)).adjusted(-20, -30, 20, 20)).save(
        str(OUT / "menubar-menu.png")
    )
    agent.tray.menu.hide()

    from reflexia.ui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(app.store, app.window)
    dialog.show_page("Menubar")
    dialog.show()
    wait(400)
    dialog.grab().save(str(OUT / "settings-menubar.png"))
    dialog.close()
    agent.close()
    app.shutdown()
    print(f"screenshots in {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
