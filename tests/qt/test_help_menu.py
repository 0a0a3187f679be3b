"""The Help menu: About Reflexia, the data and log folders, and how to report a problem."""

from __future__ import annotations

import platform

import PySide6
from PySide6.QtCore import Qt, QUrl, qVersion
from PySide6.QtGui import QAction, QDesktopServices, QGuiApplication
from pytestqt.qtbot import QtBot

from reflexia import __version__
from reflexia.app import ReflexiaApp
from reflexia.core.config import paths
from reflexia.core.engine.llama_cpp.version import installed_version
from reflexia.ui.help_menu import TextDialog
from tests.qt.conftest import OpenedUrls


def _help_menu_actions(app: ReflexiaApp) -> dict[str, QAction]:
    menus = {a.text(): a.menu() for a in app.window.menuBar().actions() if a.menu() is not None}
    assert "&Help" in menus, list(menus)
    return {a.text(): a for a in menus["&Help"].actions() if not a.isSeparator()}


def _opened_dialog(qtbot: QtBot, app: ReflexiaApp, action: QAction) -> TextDialog:
    action.trigger()
    qtbot.waitUntil(lambda: app.window.findChild(TextDialog) is not None, timeout=2000)
    dialog = app.window.findChild(TextDialog)
    assert isinstance(dialog, TextDialog) and dialog.isVisible()
    qtbot.addWidget(dialog)
    # Versions and paths are data: plain text the user can select and copy into a report.
    assert dialog.text.textFormat() == Qt.TextFormat.PlainText
    assert dialog.text.textInteractionFlags() & Qt.TextInteractionFlag.TextSelectableByMouse
    return dialog


def test_about_names_the_versions_of_reflexia_qt_llama_cpp_and_python(qtbot: QtBot, make_app) -> None:
    app = make_app()
    actions = _help_menu_actions(app)
    assert list(actions) == ["Report a problem…", "Open data folder", "Open log folder", "About Reflexia"]
    text = _opened_dialog(qtbot, app, actions["About Reflexia"]).text.text()
    assert f"Reflexia:{' ' * 9}{__version__}" in text
    for name, version in (
        ("Qt", qVersion()),
        ("PySide6", PySide6.__version__),
        ("llama-cpp-python", installed_version()),
        ("Python", platform.python_version()),
    ):
        assert f"{name}:" in text and str(version) in text, (name, text)
    assert "llama.cpp:" in text


def test_report_a_problem_says_what_to_include_with_the_log_files_path(qtbot: QtBot, make_app) -> None:
    app = make_app()
    dialog = _opened_dialog(qtbot, app, _help_menu_actions(app)["Report a problem…"])
    text = dialog.text.text()
    assert str(paths.log_dir() / "reflexia.log") in text
    assert "`reflexia doctor`" in text and f"Reflexia:{' ' * 9}{__version__}" in text
    dialog.copy_button.click()
    assert QGuiApplication.clipboard().text() == text


def test_the_data_and_log_folders_open_in_the_file_manager(qtbot: QtBot, make_app) -> None:
    app = make_app()
    actions = _help_menu_actions(app)
    opener = OpenedUrls()
    QDesktopServices.setUrlHandler("file", opener, "open")
    try:
        actions["Open data folder"].trigger()
        actions["Open log folder"].trigger()
    finally:
        QDesktopServices.unsetUrlHandler("file")
    assert opener.urls == [
        QUrl.fromLocalFile(str(paths.data_dir())),
        QUrl.fromLocalFile(str(paths.log_dir())),
    ]
