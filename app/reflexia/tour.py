"""The feature tour in the window (`reflexia demo --gui`): the real app, driven step by step.

Each step waits for the app's own signals (a model loaded, a reply finished),
so the window stays responsive and everything shown is what a user would see.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, SignalInstance, Slot
from PySide6.QtWidgets import QApplication

from reflexia.app import build_app, load_style_sheet
from reflexia.core.config.settings import load_settings

Step = Iterator[SignalInstance | int]  # a step yields a signal to wait for, or milliseconds to pause


class Tour(QObject):
    """Runs a generator of steps, resuming it when what it waits for has happened."""

    def __init__(self, steps: Step, done: Callable[[], None]) -> None:
        super().__init__()
        self._steps = steps
        self._done = done
        self._waiting: SignalInstance | None = None

    @Slot()
    def advance(self) -> None:
        """Run the tour to its next wait."""
        if self._waiting is not None:
            self._waiting.disconnect(self.advance)
            self._waiting = None
        try:
            wait = next(self._steps)
        except StopIteration:
            self._done()
            return
        if isinstance(wait, int):
            QTimer.singleShot(wait, self.advance)
        else:
            self._waiting = wait
            wait.connect(self.advance)


def run_tour(model: Path, questions: dict[str, str]) -> int:
    """Open the window, load ``model``, chat with every role, then ask one question twice."""
    qt_app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(qt_app, QApplication)
    qt_app.setStyleSheet(load_style_sheet())
    app = build_app(load_settings())
    app.window.show()

    def steps() -> Step:
        app.load_model(model)
        yield app.inference.model_loaded
        for role in app.roles.roles():
            app.roles.choose(role.name)
            app.window.new_chat()
            app.window.send(questions.get(role.name, "Introduce yourself in one sentence."))
            yield app.chat.reply_finished
            yield 1500
        app.roles.choose(app.roles.roles()[0].name)
        for _ in range(2):  # the second time, the answer comes from the response cache
            app.window.new_chat()
            app.window.send("What is a local language model?")
            yield app.chat.reply_finished
            yield 1500

    tour = Tour(steps(), qt_app.quit)
    QTimer.singleShot(300, tour.advance)
    qt_app.aboutToQuit.connect(app.shutdown)
    return qt_app.exec()
