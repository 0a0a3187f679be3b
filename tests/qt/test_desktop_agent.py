"""The desktop agent in the running app: files opened with Reflexia, and the window's close without a tray."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QFileOpenEvent, QHideEvent
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


@pytest.fixture
def mac_agent(make_app, monkeypatch: pytest.MonkeyPatch) -> Iterator[DesktopAgent]:
    """The agent as it runs on macOS (the platform's events are sent by the test)."""
    qt_app = QApplication.instance()
    assert isinstance(qt_app, QApplication)
    quit_on_close = qt_app.quitOnLastWindowClosed()
    dock: list[bool] = []
    monkeypatch.setattr("reflexia.desktop.set_dock_icon_visible", dock.append)
    app = make_app()
    app.window.hide()  # as a login start (--background) leaves it
    made = DesktopAgent(app, qt_app, SingleInstance("reflexia-test-mac-agent"), platform="darwin")
    made.has_tray = True  # a Mac always has the menubar
    made.dock = dock  # type: ignore[attr-defined]
    yield made
    made.close()
    qt_app.removeEventFilter(made)
    qt_app.setQuitOnLastWindowClosed(quit_on_close)


def test_a_login_start_stays_in_the_menubar_when_qt_activates_the_app(mac_agent: DesktopAgent) -> None:
    # Qt activates the app as it finishes launching: that used to show the window at every login.
    mac_agent._on_application_state(Qt.ApplicationState.ApplicationActive)
    assert not mac_agent.app.window.isVisible()
    # Later the user opens Reflexia.app again from the Finder: the app was inactive, now active.
    mac_agent._on_application_state(Qt.ApplicationState.ApplicationInactive)
    mac_agent._on_application_state(Qt.ApplicationState.ApplicationActive)
    assert mac_agent.app.window.isVisible()


def test_reopening_long_after_launch_shows_the_window(mac_agent: DesktopAgent, monkeypatch) -> None:
    monkeypatch.setattr("reflexia.desktop.LAUNCH_ACTIVATION_S", 0.0)
    mac_agent._launch_activation_until = 0.0  # launched long ago, never deactivated since
    mac_agent._on_application_state(Qt.ApplicationState.ApplicationActive)
    assert mac_agent.app.window.isVisible()


def test_minimising_keeps_the_dock_icon_and_closing_takes_it_away(
    qtbot: QtBot, mac_agent: DesktopAgent
) -> None:
    window = mac_agent.app.window
    window.show()
    qtbot.waitExposed(window)
    assert mac_agent.dock[-1] is True  # type: ignore[attr-defined]
    window.setWindowState(Qt.WindowState.WindowMinimized)
    QApplication.sendEvent(window, QHideEvent())  # what macOS sends as the window goes to the Dock
    assert mac_agent.dock[-1] is True  # type: ignore[attr-defined]
    window.setWindowState(Qt.WindowState.WindowNoState)
    window.hide()  # closed to the menubar
    assert mac_agent.dock[-1] is False  # type: ignore[attr-defined]


class _UnplacedIcon:
    """A status item as the platform reports it before placing it."""

    def geometry(self) -> QRect:
        return QRect(0, 0, 30, 24)

    def hide(self) -> None:
        """Taken away at the end."""


@pytest.fixture
def tray_agent(make_app, monkeypatch: pytest.MonkeyPatch) -> Iterator[DesktopAgent]:
    """The agent on a desktop with a system tray (offscreen has none: the test says there is one)."""
    qt_app = QApplication.instance()
    assert isinstance(qt_app, QApplication)
    quit_on_close = qt_app.quitOnLastWindowClosed()
    monkeypatch.setattr("reflexia.desktop.set_dock_icon_visible", lambda _visible: None)
    app = make_app()
    made = DesktopAgent(app, qt_app, SingleInstance("reflexia-test-tray-agent"), platform="linux")
    made.has_tray = True
    qt_app.setQuitOnLastWindowClosed(False)  # what the agent does where there is a tray
    yield made
    made.app.quick_prompt.hide()
    made.close()
    qt_app.removeEventFilter(made)
    qt_app.setQuitOnLastWindowClosed(quit_on_close)


def test_closing_to_the_tray_and_showing_again_keeps_the_docks(
    qtbot: QtBot, tray_agent: DesktopAgent
) -> None:
    window = tray_agent.app.window
    actions = window.menu_actions
    window.performance_dock.show()
    assert window.sidebar_dock.isVisible() and window.performance_dock.isVisible()
    window.close()  # to the menubar: the app goes on
    assert not window.isVisible()
    tray_agent.show_window()  # "Show Reflexia" in the menubar
    qtbot.waitExposed(window)
    assert window.sidebar_dock.isVisible(), "the conversations sidebar is gone"
    assert window.performance_dock.isVisible()
    assert actions.show_sidebar.isChecked() and actions.show_performance.isChecked()
    window.sidebar_dock.close()  # the dock's own close button still hides it, and the menu says so
    assert not actions.show_sidebar.isChecked()
    actions.show_sidebar.trigger()  # and View > Conversations opens it again
    assert window.sidebar_dock.isVisible() and actions.show_sidebar.isChecked()


def test_a_cold_quick_launch_opens_only_the_quick_prompt(qtbot: QtBot, tray_agent: DesktopAgent) -> None:
    window, quick = tray_agent.app.window, tray_agent.app.quick_prompt
    window.hide()  # as run_gui finds it: built, not shown
    # Just after launch the status item is not laid out yet: Qt reports it at the screen's origin.
    tray_agent.tray.icon = _UnplacedIcon()  # type: ignore[assignment]
    tray_agent.start("quick")  # `reflexia quick` with no instance running
    qtbot.waitExposed(quick)
    assert not window.isVisible()
    area = quick.screen().availableGeometry()
    assert quick.pos().toTuple() != (0, 0)
    assert abs(quick.geometry().center().x() - area.center().x()) <= 1  # at the top centre of the screen


def test_a_cold_quick_launch_without_a_tray_shows_the_window_too(qtbot: QtBot, agent: DesktopAgent) -> None:
    # Without a menubar item the window is the only way back once the quick prompt is closed.
    agent.app.window.hide()
    agent.start("quick")
    qtbot.waitExposed(agent.app.quick_prompt)
    assert agent.app.window.isVisible()
    agent.app.quick_prompt.hide()


@pytest.mark.parametrize(("request_", "shown"), [("show", True), ("background", False)])
def test_a_cold_launch_shows_the_window_unless_it_starts_in_the_background(
    tray_agent: DesktopAgent, request_: str, shown: bool
) -> None:
    tray_agent.app.window.hide()
    tray_agent.start(request_)
    assert tray_agent.app.window.isVisible() is shown
    assert not tray_agent.app.quick_prompt.isVisible()
