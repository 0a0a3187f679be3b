"""The desktop app's life: one instance, the menubar agent, the window's comings and goings, quitting.

- A second launch hands its request ("show", "quick", "background") to the running instance
  and exits 0; the running one comes to the front or opens its quick prompt. One still
  starting holds the instance lock and answers late: the second launch waits for it.
- With a system tray, closing the window keeps Reflexia in the menubar (and, on macOS, takes
  its Dock icon away); without one (some Linux desktops, offscreen), closing the window quits.
- Quit (menu, menubar, Ctrl+Q), Ctrl+C in the terminal and SIGTERM all end the same way:
  requests stopped, workers joined, the model unloaded, the stores closed; exit status 0.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QRect, Qt, QTimer, Slot
from PySide6.QtGui import QFileOpenEvent, QIcon
from PySide6.QtWidgets import QApplication

from reflexia.app import ReflexiaApp, build_app, install_excepthooks
from reflexia.core.config import paths
from reflexia.core.config.settings import LoadedSettings, Settings
from reflexia.services.global_shortcut import GlobalShortcut, ShortcutStatus
from reflexia.services.quit_signals import QuitSignals
from reflexia.services.single_instance import SingleInstance
from reflexia.ui.macos import activate_app, set_dock_icon_visible
from reflexia.ui.theme import apply_theme
from reflexia.ui.tray_agent import TrayAgent

log = logging.getLogger(__name__)

#: Qt activates the app as it finishes launching; an activation this soon after start, before the
#: app was ever inactive, is that one, not the user reopening Reflexia (macOS).
LAUNCH_ACTIVATION_S = 5.0


class DesktopAgent(QObject):
    """Ties the running app to the menubar, other launches and the window's visibility (GUI thread)."""

    def __init__(
        self,
        app: ReflexiaApp,
        qt_app: QApplication,
        instance: SingleInstance,
        shortcut: GlobalShortcut | None = None,
        platform: str = sys.platform,
    ) -> None:
        super().__init__()
        self._platform = platform
        self._launch_activation_until: float | None = time.monotonic() + LAUNCH_ACTIVATION_S
        self.app = app
        self._qt_app = qt_app
        self.tray = TrayAgent(
            app.inference, app.governor, app.roles, app.store, on_error=app.window.show_error
        )
        self.has_tray = self.tray.show_icon()
        # Without a tray there would be no way back to a closed window: closing it quits.
        qt_app.setQuitOnLastWindowClosed(not self.has_tray)
        self.tray.quick_prompt_requested.connect(self.open_quick_prompt)
        # The shortcut also works while the window is in front (global on macOS only).
        app.window.addAction(self.tray.quick_action)
        self.tray.show_window_requested.connect(self.show_window)
        self.tray.quit_requested.connect(self.quit)
        instance.requested.connect(self.on_request)
        self._signals = QuitSignals()
        self._signals.quit_requested.connect(self.quit)
        app.window.installEventFilter(self)
        qt_app.installEventFilter(self)  # files opened with Reflexia (Finder, the Dock icon)
        qt_app.applicationStateChanged.connect(self._on_application_state)
        app.store.changed.connect(self._on_settings_changed)
        # System-wide on macOS; a failure to register it leaves the app running without it.
        self.shortcut = shortcut or GlobalShortcut(parent=self)
        self.shortcut.triggered.connect(self.open_quick_prompt)
        self.shortcut.status_changed.connect(self._on_shortcut_status)
        self.shortcut.register(app.store.settings.agent.quick_prompt_shortcut)

    def start(self, request: str) -> None:
        """What this launch shows first: the window, the quick prompt alone, or nothing (login start).

        With a menubar item, ``reflexia quick`` opens just the quick prompt, as a second launch's
        does; without one the window comes up too, else nothing would lead back to it.
        """
        stays_in_menubar = request in ("background", "quick") and self.has_tray
        if not stays_in_menubar:
            self.app.window.bring_to_front()
        if request == "quick":
            self.open_quick_prompt()

    @Slot(str)
    def on_request(self, request: str) -> None:
        """What another launch asked for."""
        if request == "quick":
            self.open_quick_prompt()
        elif request == "show" or not self.has_tray:
            self.show_window()

    @Slot()
    def open_quick_prompt(self) -> None:
        """Open the quick prompt under the status item (or at the top of the screen)."""
        anchor = self.tray.anchor()
        self.app.quick_prompt.open_near(anchor.toRect() if anchor is not None else QRect())
        activate_app()  # macOS: an accessory app is not activated by a menubar click

    @Slot()
    def report_focus(self) -> None:
        """Log whether the window came up in front with the keyboard (packaging/macos_check.sh)."""
        window = self.app.window
        log.info(
            "window has the focus: %s (visible %s, app %s)",
            "yes" if window.isActiveWindow() else "no",
            window.isVisible(),
            self._qt_app.applicationState().name,
        )

    @Slot()
    def show_window(self) -> None:
        """Bring the main window to the front."""
        self.app.window.bring_to_front()

    @Slot()
    @Slot(int)
    def quit(self, _signal: int = 0) -> None:
        """Quit for real: the app shuts down as the event loop ends (``aboutToQuit``)."""
        self.app.quick_prompt.hide()
        self._qt_app.quit()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        """Files opened with Reflexia are indexed; the Dock icon follows the main window (macOS)."""
        if watched is self._qt_app and isinstance(event, QFileOpenEvent) and event.file():
            self.show_window()
            self.app.window.add_documents([Path(event.file())])
            return True
        if watched is self.app.window and self.has_tray:
            # A minimised window lives in the Dock: its icon stays until the window is closed.
            if event.type() == QEvent.Type.Hide and not self.app.window.isMinimized():
                set_dock_icon_visible(False)
            elif event.type() == QEvent.Type.Show:
                set_dock_icon_visible(True)
        return False

    @Slot(Qt.ApplicationState)
    def _on_application_state(self, state: Qt.ApplicationState) -> None:
        # A macOS popover hides when its app is no longer active (the user clicked elsewhere).
        if self._platform != "darwin":
            return
        launching, self._launch_activation_until = self._launch_activation_until, None
        if state == Qt.ApplicationState.ApplicationInactive:
            self.app.quick_prompt.hide()
            return
        if state != Qt.ApplicationState.ApplicationActive:
            return
        if launching is not None and time.monotonic() < launching:
            return  # Qt's activation at launch: a login start (--background) stays in the menubar
        # Opening Reflexia.app again (Finder, Spotlight) reactivates this process instead of starting
        # another: with nothing of ours on screen, that means "show the window".
        if not self.app.window.isVisible() and not self.app.quick_prompt.isVisible():
            self.show_window()

    @Slot(object, object)
    def _on_settings_changed(self, settings: Settings, keys: frozenset[str]) -> None:
        if "agent.quick_prompt_shortcut" in keys:
            self.shortcut.register(settings.agent.quick_prompt_shortcut)

    @Slot(object)
    def _on_shortcut_status(self, status: ShortcutStatus) -> None:
        self.app.window.set_setting_status("agent.quick_prompt_shortcut", status.note)

    def close(self) -> None:
        """Give the signals back and take the status item away (after the loop ended)."""
        self._signals.restore()
        self.shortcut.unregister()
        if self.tray.icon is not None:
            self.tray.icon.hide()


def run_gui(loaded: LoadedSettings, argv: list[str], request: str = "show") -> int:
    """Start the desktop app (or hand ``request`` to the running one) and block until it quits."""
    started = time.perf_counter()
    qt_app = QApplication.instance() or QApplication(argv)
    assert isinstance(qt_app, QApplication)
    qt_app.setApplicationName("Reflexia")
    qt_app.setOrganizationName("Reflexia")
    instance = SingleInstance()
    if instance.hand_over(request):  # waits for one still starting; raises if it never answers
        log.info("handed %r over to the running Reflexia", request)
        return 0
    instance.listen()
    qt_app.setWindowIcon(QIcon(str(paths.resources_dir() / "icon.png")))
    apply_theme(qt_app)  # the system's light or dark look, followed live
    app = build_app(loaded)
    install_excepthooks(app.errors)
    agent = DesktopAgent(app, qt_app, instance)
    qt_app.aboutToQuit.connect(app.shutdown)
    agent.start(request)
    if app.window.isVisible():
        log.info("window shown in %.2f s", time.perf_counter() - started)
        QTimer.singleShot(1500, agent.report_focus)
    code = qt_app.exec()
    agent.close()
    instance.close()
    log.info("quit with status %d", code)
    return code
