"""The window's menu bar with the platform's standard shortcuts.

Standard key sequences map to each platform's convention (Cmd on macOS, Ctrl
elsewhere); Settings and About get their roles, so macOS puts them in the app menu.
What the Help menu's actions do is in :mod:`reflexia.ui.help_menu`.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMenuBar


@dataclass(frozen=True)
class WindowActions:
    """The actions the window connects to what they do."""

    new_chat: QAction
    open_model: QAction
    export_conversation: QAction
    close_window: QAction
    quit: QAction
    find: QAction
    settings: QAction
    edit_roles: QAction
    regenerate: QAction
    edit_last: QAction
    show_sidebar: QAction
    show_performance: QAction
    show_documents: QAction
    add_documents: QAction
    stop: QAction
    about: QAction
    open_data_folder: QAction
    open_log_folder: QAction
    report_problem: QAction
    model_details: QAction


def _action(
    window: QMainWindow, text: str, shortcut: QKeySequence | QKeySequence.StandardKey | str
) -> QAction:
    action = QAction(text, window)
    action.setShortcut(shortcut if isinstance(shortcut, QKeySequence) else QKeySequence(shortcut))
    return action


def build_menus(window: QMainWindow) -> WindowActions:
    """Create the menus of ``window`` and return their actions."""
    keys = QKeySequence.StandardKey
    actions = WindowActions(
        new_chat=_action(window, "New chat", keys.New),
        open_model=_action(window, "Open GGUF…", keys.Open),
        export_conversation=_action(window, "Export conversation…", "Ctrl+Shift+E"),
        close_window=_action(window, "Close window", keys.Close),
        quit=_action(window, "Quit Reflexia", keys.Quit),
        find=_action(window, "Search conversations", keys.Find),
        settings=_action(window, "Settings…", keys.Preferences),
        edit_roles=_action(window, "Edit roles…", "Ctrl+Shift+R"),
        regenerate=_action(window, "Regenerate last reply", "Ctrl+R"),
        edit_last=_action(window, "Edit last message", "Ctrl+Shift+Up"),
        show_sidebar=_action(window, "Conversations", "Ctrl+Shift+S"),
        show_performance=_action(window, "Performance", "Ctrl+Shift+P"),
        show_documents=_action(window, "Documents", "Ctrl+Shift+D"),
        add_documents=_action(window, "Add documents…", "Ctrl+Shift+O"),
        stop=_action(window, "Stop reply", "Esc"),
        about=_action(window, "About Reflexia", ""),
        open_data_folder=_action(window, "Open data folder", ""),
        open_log_folder=_action(window, "Open log folder", ""),
        report_problem=_action(window, "Report a problem…", ""),
        model_details=_action(window, "Model details…", "Ctrl+I"),
    )
    if actions.settings.shortcut().isEmpty():  # no standard Preferences key on Linux: the common Ctrl+,
        actions.settings.setShortcut(QKeySequence("Ctrl+,"))
    actions.settings.setMenuRole(QAction.MenuRole.PreferencesRole)
    actions.quit.setMenuRole(QAction.MenuRole.QuitRole)
    actions.about.setMenuRole(QAction.MenuRole.AboutRole)  # macOS moves it to the app menu
    for action in (actions.open_data_folder, actions.open_log_folder, actions.report_problem):
        action.setMenuRole(QAction.MenuRole.NoRole)  # "About"/"Preferences" in a title must not move them
    for toggle in (actions.show_sidebar, actions.show_performance, actions.show_documents):
        toggle.setCheckable(True)
    bar: QMenuBar = window.menuBar()
    file_menu = bar.addMenu("&File")
    for action in (actions.new_chat, actions.open_model, actions.add_documents, actions.export_conversation):
        file_menu.addAction(action)
    file_menu.addSeparator()
    file_menu.addAction(actions.close_window)
    file_menu.addAction(actions.quit)
    edit_menu = bar.addMenu("&Edit")
    edit_menu.addAction(actions.find)
    edit_menu.addAction(actions.stop)
    edit_menu.addAction(actions.regenerate)
    edit_menu.addAction(actions.edit_last)
    edit_menu.addSeparator()
    edit_menu.addAction(actions.edit_roles)
    edit_menu.addAction(actions.settings)
    view_menu = bar.addMenu("&View")
    view_menu.addAction(actions.show_sidebar)
    view_menu.addAction(actions.show_performance)
    view_menu.addAction(actions.show_documents)
    view_menu.addSeparator()
    view_menu.addAction(actions.model_details)
    help_menu = bar.addMenu("&Help")
    help_menu.addAction(actions.report_problem)
    help_menu.addSeparator()
    help_menu.addAction(actions.open_data_folder)
    help_menu.addAction(actions.open_log_folder)
    help_menu.addSeparator()
    help_menu.addAction(actions.about)
    return actions


class DockSwitch(QObject):
    """Keeps a View menu action and its dock in step (GUI thread).

    Only the user's choice (``triggered``) opens or closes the dock, and the check says whether
    the dock is open, not whether it is on screen: closing the window to the menubar hides every
    dock with it (``visibilityChanged(False)``), and a check that followed that, wired to
    ``setVisible`` through ``toggled``, closed the conversations sidebar for good.
    """

    def __init__(self, action: QAction, dock: QDockWidget) -> None:
        super().__init__(action)
        self._action = action
        self._dock = dock
        action.triggered.connect(self._on_triggered)
        dock.visibilityChanged.connect(self.follow)
        self.follow()

    @Slot(bool)
    def _on_triggered(self, checked: bool) -> None:
        self._dock.setVisible(checked)

    @Slot()
    def follow(self) -> None:
        """Check the action when the dock is open (call after ``restoreState``, which sends no signal)."""
        self._action.setChecked(not self._dock.isHidden())
