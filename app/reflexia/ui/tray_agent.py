"""The menubar agent: a status item sharing the one engine with the window.

Its menu: Quick prompt…, Show Reflexia, a line with the model, rung and memory pressure,
the role, auto-quantization on/off, Start at login, Quit. The icon shows what the engine
is doing (idle, loading, generating) and high memory pressure.

On macOS the icon is a template image (black and alpha, ``setIsMask``) so the menubar
colours it for its light or dark look, and the menu is not set with ``setContextMenu``:
with it, a click can abort the app (QTBUG-147449). A click opens the quick prompt there,
a right-click the menu. Elsewhere the menu is the item's context menu and a click opens
the quick prompt. Where no system tray exists the agent is not shown at all.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Literal

from PySide6.QtCore import QObject, QPointF, QRectF, Qt, Signal, Slot
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QColor,
    QCursor,
    QGuiApplication,
    QIcon,
    QPainter,
    QPen,
    QPixmap,
)
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from reflexia.core.config.settings import Role, Settings
from reflexia.core.engine.values import ModelInfo
from reflexia.services.governor_service import GovernorService
from reflexia.services.inference import InferenceService
from reflexia.services.roles import RoleService
from reflexia.services.settings_store import SettingsStore

log = logging.getLogger(__name__)

IconState = Literal["idle", "loading", "generating", "pressure"]
_PRESSURE_NAMES = {
    "normal": "memory OK",
    "high": "memory pressure high",
    "critical": "memory pressure critical",
}


def state_icon(state: IconState, *, template: bool = sys.platform == "darwin") -> QIcon:
    """The status item's icon for ``state``: a ring, opened while loading, filled while answering.

    The macOS menubar draws its icons 18 pt tall (the bar less 4 pt): a template icon comes as an
    18 px pixmap and its 36 px Retina twin (device pixel ratio 2), its ring filling most of it. A
    44 px pixmap was taken as 44 pt and scaled down to a ring of about 11 pt. Other trays ask for
    22 px and its double.
    """
    icon = QIcon()
    points, fill = (18, 0.84) if template else (22, 0.68)
    for ratio in (1, 2):
        size = points * ratio
        pixmap = QPixmap(size, size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        color = QColor("black") if template else QColor("#3b5bfd")
        pen = QPen(color, size / 9)
        painter.setPen(pen)
        margin = (1 - fill) / 2
        ring = QRectF(size * margin, size * margin, size * fill, size * fill)
        if state == "loading":
            painter.drawArc(ring, 90 * 16, -270 * 16)
        else:
            painter.drawEllipse(ring)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(color)
        if state == "generating":
            painter.drawEllipse(QPointF(size / 2, size / 2), size * 0.17, size * 0.17)
        elif state == "pressure":
            painter.drawRoundedRect(QRectF(size * 0.45, size * 0.3, size * 0.1, size * 0.25), 1, 1)
            painter.drawEllipse(QPointF(size / 2, size * 0.66), size * 0.06, size * 0.06)
        painter.end()
        pixmap.setDevicePixelRatio(ratio)
        icon.addPixmap(pixmap)
    icon.setIsMask(template)
    return icon


def click_opens_menu(
    reason: QSystemTrayIcon.ActivationReason, modifiers: Qt.KeyboardModifier, platform: str = sys.platform
) -> bool:
    """Whether a click on the status item opens our menu (macOS, where no context menu is set).

    On macOS a right-click and a Control-click both mean "the menu". Qt reports a Control-click
    as a left click (Trigger) with the Control key, which Qt calls Meta there.
    """
    if platform != "darwin":
        return False  # elsewhere the context menu is the item's own
    if reason == QSystemTrayIcon.ActivationReason.Context:
        return True
    return reason == QSystemTrayIcon.ActivationReason.Trigger and bool(
        modifiers & Qt.KeyboardModifier.MetaModifier
    )


class TrayAgent(QObject):
    """The status item and its menu (GUI thread). The menu exists even where no tray does.

    Signals:
        quick_prompt_requested(): open the quick prompt.
        show_window_requested(): bring the main window to the front.
        quit_requested(): Quit was chosen.
    """

    quick_prompt_requested = Signal()
    show_window_requested = Signal()
    quit_requested = Signal()

    def __init__(
        self,
        inference: InferenceService,
        governor: GovernorService,
        roles: RoleService,
        settings_store: SettingsStore,
        *,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__()
        self._inference = inference
        self._roles = roles
        self._store = settings_store
        self._on_error = on_error
        self._pressure = "normal"
        self.state: IconState = "idle"
        self.icon: QSystemTrayIcon | None = None
        self.menu = QMenu()
        self.quick_action = self.menu.addAction("Quick prompt…")
        self.quick_action.setShortcut(settings_store.settings.agent.quick_prompt_shortcut)
        self.show_action = self.menu.addAction("Show Reflexia")
        self.menu.addSeparator()
        self.status_action = self.menu.addAction("No model loaded")
        self.status_action.setEnabled(False)
        self.roles_menu = self.menu.addMenu("Role")
        self._role_group = QActionGroup(self)
        self.auto_action = self.menu.addAction("Auto-quantization")
        self.auto_action.setCheckable(True)
        self.login_action = self.menu.addAction("Start at login")
        self.login_action.setCheckable(True)
        self.menu.addSeparator()
        self.quit_action = self.menu.addAction("Quit Reflexia")
        self.quick_action.triggered.connect(self.quick_prompt_requested)
        self.show_action.triggered.connect(self.show_window_requested)
        self.quit_action.triggered.connect(self.quit_requested)
        self.auto_action.toggled.connect(self._on_auto_toggled)
        self.login_action.toggled.connect(self._on_login_toggled)
        self._role_group.triggered.connect(self._on_role_chosen)
        inference.model_loading.connect(self._on_model_loading)
        inference.model_loaded.connect(self._on_model_loaded)
        inference.model_load_failed.connect(self._on_model_load_failed)
        inference.model_unloaded.connect(self._on_model_ready)
        inference.busy_changed.connect(self._on_busy_changed)
        governor.pressure_changed.connect(self._on_pressure_changed)
        roles.roles_changed.connect(self._list_roles)
        roles.role_changed.connect(self._on_role_changed)
        settings_store.changed.connect(self._on_settings_changed)
        self._list_roles()
        self._on_settings_changed(settings_store.settings, frozenset())
        self._show_status()

    def show_icon(self) -> bool:
        """Put the item in the menubar; False where the desktop has no system tray."""
        if not QSystemTrayIcon.isSystemTrayAvailable():
            log.info("no system tray on this desktop: running without the menubar agent")
            return False
        self.icon = QSystemTrayIcon(state_icon(self.state), self)
        self.icon.setToolTip("Reflexia")
        if sys.platform != "darwin":  # on macOS a context menu makes a click abort the app (QTBUG-147449)
            self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._on_activated)
        self.icon.show()
        log.info("status item shown in the menubar")  # packaging/macos_check.sh looks for this line
        return True

    def anchor(self) -> QRectF | None:
        """Where the item is on screen; None when the platform does not say or has not placed it yet.

        Just after launch the item can report a rectangle at the screen's origin (it is laid out
        later): the quick prompt of a cold ``reflexia quick`` opened at the top-left corner.
        No status item sits there on any desktop (the Apple menu, Activities, a start button).
        """
        if self.icon is None:
            return None
        where = self.icon.geometry()
        if where.isEmpty() or where.topLeft().isNull():
            return None
        return QRectF(where)

    # -- what the user does -----------------------------------------------
    @Slot(QSystemTrayIcon.ActivationReason)
    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if click_opens_menu(reason, QGuiApplication.queryKeyboardModifiers()):
            self.menu.popup(QCursor.pos())
        elif reason == QSystemTrayIcon.ActivationReason.Trigger:
            self.quick_prompt_requested.emit()

    @Slot(bool)
    def _on_auto_toggled(self, on: bool) -> None:
        if on != self._store.settings.memory.governor_enabled:
            self._update({"memory.governor_enabled": on})

    @Slot(bool)
    def _on_login_toggled(self, on: bool) -> None:
        if on != self._store.settings.agent.start_at_login:
            self._update({"agent.start_at_login": on})

    def _update(self, changes: dict[str, object]) -> None:
        try:
            self._store.update(changes)
        except Exception as error:  # a settings file that cannot be written: say so, keep running
            log.warning("could not save %s: %s", changes, error)
            if self._on_error is not None:
                self._on_error(f"Could not save the setting: {error}")

    @Slot(QAction)
    def _on_role_chosen(self, action: QAction) -> None:
        self._roles.choose(action.text())

    # -- what the engine and the governor report --------------------------
    @Slot()
    def _list_roles(self) -> None:
        for action in self._role_group.actions():
            self._role_group.removeAction(action)
            self.roles_menu.removeAction(action)
        for role in self._roles.roles():
            action = self.roles_menu.addAction(role.name)
            action.setCheckable(True)
            action.setChecked(role.name == self._roles.current.name)
            self._role_group.addAction(action)

    @Slot(object)
    def _on_role_changed(self, role: Role) -> None:
        for action in self._role_group.actions():
            action.setChecked(action.text() == role.name)
        self._show_status()

    @Slot(object, object)
    def _on_settings_changed(self, settings: Settings, _keys: object) -> None:
        self.auto_action.setChecked(settings.memory.governor_enabled)
        self.login_action.setChecked(settings.agent.start_at_login)
        self.quick_action.setShortcut(settings.agent.quick_prompt_shortcut)

    @Slot(int, object)
    def _on_model_loading(self, _request: int, _ref: object) -> None:
        self._set_state("loading")
        self.status_action.setText("Loading a model…")

    @Slot(int, object)
    def _on_model_loaded(self, _request: int, _info: ModelInfo) -> None:
        self._on_model_ready()

    @Slot(int, object, object)
    def _on_model_load_failed(self, _request: int, _error: object, _still_loaded: object) -> None:
        self._on_model_ready()

    @Slot()
    def _on_model_ready(self) -> None:
        self._set_state(self._resting_state())
        self._show_status()

    @Slot(bool)
    def _on_busy_changed(self, busy: bool) -> None:
        generating = busy and not self._inference.is_loading
        if self.state != "loading" or not self._inference.is_loading:
            self._set_state("generating" if generating else self._resting_state())

    @Slot(str, object)
    def _on_pressure_changed(self, level: str, _sample: object) -> None:
        self._pressure = level
        if self.state in ("idle", "pressure"):
            self._set_state(self._resting_state())
        self._show_status()

    def _resting_state(self) -> IconState:
        return "pressure" if self._pressure in ("high", "critical") else "idle"

    def _set_state(self, state: IconState) -> None:
        if state != self.state:
            self.state = state
            if self.icon is not None:
                self.icon.setIcon(state_icon(state))

    def _show_status(self) -> None:
        model = self._inference.model
        pressure = _PRESSURE_NAMES.get(self._pressure, self._pressure)
        if model is None:
            text = f"No model loaded · {pressure}"
        else:
            text = f"{model.name} · {model.quantization} · {pressure}"
        self.status_action.setText(text)
        if self.icon is not None:
            self.icon.setToolTip(f"Reflexia — {text} · {self._roles.current.name}")
