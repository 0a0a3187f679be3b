"""The quick prompt's global shortcut on macOS, through a stand-in that does what quickmachotkey does.

On a Mac the real library would set attributes on the handler it is given: a bound method refuses
them, and the app exited at launch. These tests run the registration path of macOS here.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from reflexia.desktop import DesktopAgent
from reflexia.services.global_shortcut import GlobalShortcut
from reflexia.services.single_instance import SingleInstance
from tests.macos_standins import install_quickmachotkey


@pytest.fixture
def hotkeys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    install_quickmachotkey(tmp_path / "standins")
    monkeypatch.syspath_prepend(str(tmp_path / "standins"))
    import quickmachotkey

    yield quickmachotkey
    for name in [n for n in sys.modules if n.startswith("quickmachotkey")]:
        del sys.modules[name]


def test_the_stand_in_refuses_a_bound_method_as_quickmachotkey_does(hotkeys: ModuleType) -> None:
    owner = QObject()
    decorate = hotkeys.quickHotKey(virtualKey=0x31, modifierMask=0x100)
    with pytest.raises(AttributeError, match=r"unregister|register"):
        decorate(owner.deleteLater)


def test_the_shortcut_registers_and_opens_on_its_keys(qtbot: QtBot, hotkeys: ModuleType) -> None:
    shortcut = GlobalShortcut(platform="darwin")
    status = shortcut.register("Ctrl+Shift+Space")
    assert status.registered, status.reason
    assert status.note == "Ctrl+Shift+Space is registered for every app."
    # Ctrl is Cmd on macOS: Carbon gets Space with Cmd and Shift.
    assert list(hotkeys.registered.values()) == [(0x31, 0x100 | 0x200)]
    with qtbot.waitSignal(shortcut.triggered, timeout=1_000):
        hotkeys.press(0x31, 0x300)
    shortcut.register("Ctrl+Meta+K")  # a new one from the settings replaces it
    assert list(hotkeys.registered.values()) == [(0x28, 0x100 | 0x1000)]
    shortcut.unregister()
    assert hotkeys.registered == {}


def test_a_key_macos_has_no_code_for_is_reported(hotkeys: ModuleType) -> None:
    status = GlobalShortcut(platform="darwin").register("Ctrl+F13")
    assert not status.registered
    assert "no key code for 'F13'" in status.reason and "while Reflexia is in front" in status.reason


def test_without_the_library_the_app_goes_on_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "quickmachotkey", None)  # import fails as when it is missing
    status = GlobalShortcut(platform="darwin").register("Ctrl+Shift+Space")
    assert not status.registered and "could not be registered for every app" in status.reason


def test_a_failed_registration_leaves_the_app_running_and_the_settings_say_why(
    qtbot: QtBot, make_app, hotkeys: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hotkeys, "FAIL", "eventHotKeyExistsErr (-9878): the shortcut is taken")
    qt_app = QApplication.instance()
    assert isinstance(qt_app, QApplication)
    quit_on_close = qt_app.quitOnLastWindowClosed()
    app = make_app()
    shortcut = GlobalShortcut(platform="darwin")
    agent = DesktopAgent(app, qt_app, SingleInstance("reflexia-test-shortcut"), shortcut)
    try:
        assert not agent.shortcut.status.registered
        assert app.window.isVisible()
        dialog = app.window.open_settings()
        pages = [dialog.page_list.item(i).text() for i in range(dialog.page_list.count())]
        dialog.page_list.setCurrentRow(pages.index("Menubar"))
        row = dialog._rows["agent.quick_prompt_shortcut"]
        assert row.status_label.isVisibleTo(dialog)
        assert "eventHotKeyExistsErr" in row.status_label.text()
        assert "works while Reflexia is in front" in row.status_label.text()
        dialog.close()
    finally:
        agent.close()
        qt_app.removeEventFilter(agent)
        qt_app.setQuitOnLastWindowClosed(quit_on_close)


def test_elsewhere_the_settings_description_alone_explains(qtbot: QtBot) -> None:
    status = GlobalShortcut(platform="linux").register("Ctrl+Shift+Space")
    assert (
        not status.registered and status.note == ""
    )  # the field's description says to bind `reflexia quick`
