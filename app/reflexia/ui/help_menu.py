"""The Help menu's commands: About Reflexia, the data and log folders, and how to report a problem.

Everything is plain, selectable text gathered on this machine (a version string or a path is
data, and a user copies it into a report); nothing here goes to the network.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import PySide6
from PySide6.QtCore import QObject, Qt, QUrl, Slot, qVersion
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QPushButton, QVBoxLayout, QWidget

from reflexia.core.config import paths
from reflexia.core.diagnostics.about import problem_report_text, versions, versions_text
from reflexia.ui.markup import plain_label
from reflexia.ui.menus import WindowActions


class TextDialog(QDialog):
    """A short text the user reads and copies: selectable, plain, with a Copy button."""

    def __init__(self, title: str, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("textDialog")
        self.setWindowTitle(title)
        self.text = plain_label(text)
        self.text.setObjectName("dialogText")
        self.text.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy this text, to paste it into a report")
        self.buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.buttons.rejected.connect(self.reject)
        self.copy_button.clicked.connect(self.copy)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.buttons)

    @Slot()
    def copy(self) -> None:
        """Put the whole text on the clipboard."""
        QGuiApplication.clipboard().setText(self.text.text())


class HelpCommands(QObject):
    """What the Help menu's actions do; lives on the GUI thread with its window.

    Args:
        window: the dialogs' parent.
        actions: the window's menu actions (the Help ones are connected here).
        show_error: how the window shows a folder that could not be opened.
    """

    def __init__(self, window: QWidget, actions: WindowActions, show_error: Callable[[str], None]) -> None:
        super().__init__(window)
        self._window = window
        self._show_error = show_error
        actions.about.triggered.connect(self.show_about)
        actions.open_data_folder.triggered.connect(self.open_data_folder)
        actions.open_log_folder.triggered.connect(self.open_log_folder)
        actions.report_problem.triggered.connect(self.show_report_help)

    def _versions(self) -> list[tuple[str, str]]:
        return versions(qt=qVersion(), pyside=PySide6.__version__)

    @Slot()
    def show_about(self) -> TextDialog:
        """The versions of Reflexia and what it runs on."""
        text = f"Reflexia runs language models on this computer.\n\n{versions_text(self._versions())}"
        return self._show(TextDialog("About Reflexia", text, self._window))

    @Slot()
    def show_report_help(self) -> TextDialog:
        """What to include in a problem report: the log file, `reflexia doctor`, the versions."""
        dialog = TextDialog("Report a problem", problem_report_text(self._versions()), self._window)
        open_logs = QPushButton("Open log folder")
        dialog.buttons.addButton(open_logs, QDialogButtonBox.ButtonRole.ActionRole)
        open_logs.clicked.connect(self.open_log_folder)
        return self._show(dialog)

    @Slot()
    def open_data_folder(self) -> bool:
        """Show the folder of models, conversations and the document index in the file manager."""
        return self._open(paths.data_dir())

    @Slot()
    def open_log_folder(self) -> bool:
        """Show the folder of the log file in the file manager."""
        return self._open(paths.log_dir())

    def _show(self, dialog: TextDialog) -> TextDialog:
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def _open(self, folder: Path) -> bool:
        try:
            folder.mkdir(parents=True, exist_ok=True)  # a fresh install has no log folder yet
        except OSError as error:
            self._show_error(f"Could not create {folder}: {error.strerror or error}")
            return False
        if QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))):
            return True
        self._show_error(f"Could not open {folder} in the file manager: open it from there yourself.")
        return False
