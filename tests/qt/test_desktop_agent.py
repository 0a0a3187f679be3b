"""The desktop agent in the running app: files opened with Reflexia, and the window's close without a tray."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QFileOpenEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from reflexia.desktop import DesktopAgent
from reflexia.services.single_instance import SingleInstance
from tests.grounding_docs import write_grounding_docs


@pytest.fixture
def agent(make_app) -> Iterator[DesktopAgent]:
    qt_app = QApplication.instance()
    assert isinstance(qt_app, QApplication)
    quit_on_close = qt_app.quitOnLastWindowClosed()
    made = DesktopAgent(make_app(), qt_app, SingleInstance("reflexia-test-agent"))
    yield made
    made.close()
    qt_app.removeEventFilter(made)
    qt_app.setQuitOnLastWindowClosed(quit_on_close)


def test_without_a_tray_closing_the_window_quits(agent: DesktopAgent) -> None:
    assert not agent.has_tray  # offscreen: no system tray
    qt_app = QApplication.instance()
    assert isinstance(qt_app, QApplication) and qt_app.quitOnLastWindowClosed()


def test_a_file_opened_with_reflexia_is_indexed(qtbot: QtBot, agent: DesktopAgent, tmp_path: Path) -> None:
    docs = write_grounding_docs(tmp_path / "docs")
    documents = agent.app.documents
    with qtbot.waitSignal(documents.run_finished, timeout=180_000) as finished:
        QApplication.sendEvent(QApplication.instance(), QFileOpenEvent(str(docs / "maintenance.md")))
    assert finished.args[0].indexed == (docs / "maintenance.md",)
    assert agent.app.window.documents_dock is not None and agent.app.window.documents_dock.isVisible()


def test_the_quick_prompt_shortcut_works_in_the_window(qtbot: QtBot, agent: DesktopAgent) -> None:
    window = agent.app.window
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5_000)
    qtbot.keyClick(
        window, Qt.Key.Key_Space, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    qtbot.waitUntil(agent.app.quick_prompt.isVisible, timeout=5_000)
    agent.app.quick_prompt.hide()
