"""The settings dialog and the store behind it: built from the models, validated as you type."""

from __future__ import annotations

import json
import typing
from collections.abc import Callable
from typing import Any

import annotated_types
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QCheckBox, QComboBox, QDialog, QDoubleSpinBox, QLabel, QLineEdit, QSpinBox
from pytestqt.qtbot import QtBot

from reflexia.core.config.settings import SettingsChangeError, setting_field, user_config_path
from reflexia.services.settings_store import (
    APPLIES_NOW,
    NEXT_MODEL_LOAD,
    SettingsStore,
    effect,
    takes_effect_on_next_load,
)
from reflexia.ui.settings_dialog import PAGES, SettingsDialog
from tests.qt.conftest import write_user_config

DialogFactory = Callable[[], SettingsDialog]


@pytest.fixture
def store() -> SettingsStore:
    return SettingsStore()


@pytest.fixture
def make_dialog(qtbot: QtBot, store: SettingsStore) -> DialogFactory:
    def factory() -> SettingsDialog:
        dialog = SettingsDialog(store)
        qtbot.addWidget(dialog)
        dialog.show()
        qtbot.waitExposed(dialog)
        return dialog

    return factory


def _type_into(qtbot: QtBot, editor: QSpinBox | QDoubleSpinBox | QLineEdit, text: str) -> None:
    editor.setFocus()
    editor.selectAll()
    QTest.keyClicks(editor, text)


def _spin(dialog: SettingsDialog, key: str) -> QSpinBox:
    editor = dialog.row(key).editor
    assert isinstance(editor, QSpinBox)
    return editor


def _bounds(key: str) -> tuple[Any, Any]:
    info = setting_field(tuple(key.split(".")))
    assert info is not None
    low = next(rule.ge for rule in info.metadata if isinstance(rule, annotated_types.Ge))
    high = next(rule.le for rule in info.metadata if isinstance(rule, annotated_types.Le))
    return low, high


def test_every_field_gets_a_control_titled_and_bounded_by_its_model(make_dialog: DialogFactory) -> None:
    dialog = make_dialog()
    for page, keys in PAGES:
        dialog.show_page(page)
        for key in keys:
            info = setting_field(tuple(key.split(".")))
            assert info is not None and info.title, key
            row = dialog.row(key)
            assert row.title_widget.text() == info.title
            assert row.title_widget.isVisible() and row.editor.isVisible(), key
            if info.description and not info.description[0].islower():
                assert row.help_label.text() == info.description and row.help_label.isVisible()
            annotation = info.annotation
            if annotation is bool:
                assert isinstance(row.editor, QCheckBox)
            elif typing.get_origin(annotation) is typing.Literal:
                assert isinstance(row.editor, QComboBox)
                options = [row.editor.itemText(i) for i in range(row.editor.count())]
                assert options == list(typing.get_args(annotation))
            elif annotation is int and key != "sampling.seed":  # the seed is wider than a QSpinBox
                assert isinstance(row.editor, QSpinBox)
                assert (row.editor.minimum(), row.editor.maximum()) == _bounds(key)
            elif annotation in (int, float):
                assert isinstance(row.editor, QDoubleSpinBox)
                assert (row.editor.minimum(), row.editor.maximum()) == _bounds(key)
            else:
                assert isinstance(row.editor, QLineEdit)
    assert dialog.row("paths.models_dir").choose_button is not None
    assert dialog.row("paths.vector_db_path").choose_button is not None
    assert dialog.row("model.default_model").choose_button is None
    assert dialog.ok_button.isEnabled() and not dialog.apply_button.isEnabled()
    assert {key for _page, keys in PAGES for key in keys} >= {
        "memory.governor_enabled",
        "chat.response_cache_entries",
        "chat.load_last_model",
        "ollama.host",
        "rag.top_k",
    }


def test_the_dialog_shows_the_settings_in_force(qtbot: QtBot) -> None:
    write_user_config({"model": {"context_length": 2048}, "ollama": {"host": "http://10.0.0.2:11434"}})
    dialog = SettingsDialog(SettingsStore())
    qtbot.addWidget(dialog)
    assert _spin(dialog, "model.context_length").value() == 2048
    host = dialog.row("ollama.host").editor
    assert isinstance(host, QLineEdit) and host.text() == "http://10.0.0.2:11434"


def test_an_out_of_range_value_shows_the_problem_at_the_field_and_disables_ok(
    qtbot: QtBot, make_dialog: DialogFactory
) -> None:
    dialog = make_dialog()
    row = dialog.row("model.context_length")
    _type_into(qtbot, _spin(dialog, "model.context_length"), "100")
    assert row.problem_label.isVisible()
    assert row.problem_label.text() == "Must be at least 256."
    assert not dialog.ok_button.isEnabled() and not dialog.apply_button.isEnabled()
    assert not dialog.page_list.item(0).icon().isNull()  # the page is marked too

    QTest.keyClick(_spin(dialog, "model.context_length"), Qt.Key.Key_Return)  # no silent correction
    assert dialog.isVisible() and _spin(dialog, "model.context_length").cleanText() == "100"

    _type_into(qtbot, _spin(dialog, "model.context_length"), "1000")
    assert not row.problem_label.isVisible()
    assert dialog.ok_button.isEnabled() and dialog.apply_button.isEnabled()


def test_a_rule_across_fields_shows_at_the_edited_field(qtbot: QtBot, make_dialog: DialogFactory) -> None:
    dialog = make_dialog()
    dialog.show_page("Memory")
    critical = dialog.row("memory.critical_pressure_percent")
    _type_into(qtbot, _spin(dialog, "memory.critical_pressure_percent"), "75")
    assert critical.problem_label.isVisible()
    assert "must be above" in critical.problem_label.text()
    assert "High pressure at (% used)" in critical.problem_label.text()  # titles, not Python names
    assert not dialog.ok_button.isEnabled()
    _type_into(qtbot, _spin(dialog, "memory.high_pressure_percent"), "70")
    assert not critical.problem_label.isVisible()
    assert not dialog.row("memory.high_pressure_percent").problem_label.isVisible()
    assert dialog.ok_button.isEnabled()


def test_an_invalid_host_is_shown_and_blocks_ok(qtbot: QtBot, make_dialog: DialogFactory) -> None:
    dialog = make_dialog()
    dialog.show_page("Ollama")
    host = dialog.row("ollama.host")
    assert isinstance(host.editor, QLineEdit)
    _type_into(qtbot, host.editor, "localhost:11434")
    assert host.problem_label.text() == "Must be a URL starting with http:// or https://."
    assert not dialog.ok_button.isEnabled()


def test_ok_saves_the_change_and_the_store_announces_it(
    qtbot: QtBot, make_dialog: DialogFactory, store: SettingsStore
) -> None:
    dialog = make_dialog()
    _type_into(qtbot, _spin(dialog, "model.context_length"), "8192")
    assert dialog.changes() == {"model.context_length": 8192}
    with qtbot.waitSignal(store.changed, timeout=2000) as changed:
        QTest.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    settings, keys = changed.args
    assert keys == frozenset({"model.context_length"})
    assert settings.model.context_length == 8192 and store.settings.model.context_length == 8192
    assert json.loads(user_config_path().read_text())["model"] == {"context_length": 8192}
    assert dialog.result() == QDialog.DialogCode.Accepted and not dialog.isVisible()


def test_apply_says_what_waits_for_the_next_model_load(
    qtbot: QtBot, make_dialog: DialogFactory, store: SettingsStore
) -> None:
    dialog = make_dialog()
    _type_into(qtbot, _spin(dialog, "model.context_length"), "8192")
    dialog.show_page("Sampling")
    temperature = dialog.row("sampling.temperature").editor
    assert isinstance(temperature, QDoubleSpinBox)
    _type_into(qtbot, temperature, "0.25")
    with qtbot.waitSignal(store.changed, timeout=2000) as changed:
        QTest.mouseClick(dialog.apply_button, Qt.MouseButton.LeftButton)
    assert changed.args[1] == frozenset({"model.context_length", "sampling.temperature"})
    assert dialog.isVisible()
    assert dialog.note.isVisible()
    assert dialog.note.text() == "Saved. Context length takes effect on the next model load."
    assert not dialog.apply_button.isEnabled()  # nothing left to save
    assert store.settings.sampling.temperature == pytest.approx(0.25)


def test_the_model_page_names_what_applies_on_the_next_load(make_dialog: DialogFactory) -> None:
    dialog = make_dialog()
    intros = [label.text() for label in dialog.findChildren(QLabel, "pageIntro")]
    assert intros == ["Context length, threads, GPU layers and batch size apply from the next model load."]


def test_a_field_set_by_the_environment_is_read_only(qtbot: QtBot, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REFLEXIA_THREADS", "3")
    store = SettingsStore()
    dialog = SettingsDialog(store)
    qtbot.addWidget(dialog)
    dialog.show()
    threads = dialog.row("model.threads")
    assert isinstance(threads.editor, QSpinBox)
    assert threads.editor.isReadOnly() and threads.locked
    assert threads.editor.value() == 3
    assert threads.note_label.isVisible()
    assert threads.note_label.text() == (
        "Set by environment variable REFLEXIA_THREADS — changing it here has no effect until that is removed."
    )
    assert not _spin(dialog, "model.batch_size").isReadOnly()
    dialog.restore_page_defaults()  # the default (0) stays out of a locked field
    assert threads.editor.value() == 3 and "model.threads" not in dialog.changes()


def test_restore_defaults_puts_the_page_back_and_ok_saves_it(qtbot: QtBot) -> None:
    write_user_config({"model": {"context_length": 2048}, "sampling": {"temperature": 0.1}})
    store = SettingsStore()
    dialog = SettingsDialog(store)
    qtbot.addWidget(dialog)
    dialog.restore_page_defaults()  # the Model page only
    assert _spin(dialog, "model.context_length").value() == store.defaults.model.context_length
    assert dialog.changes() == {"model.context_length": store.defaults.model.context_length}
    dialog.accept()
    saved = json.loads(user_config_path().read_text())
    assert saved["model"] == {"context_length": store.defaults.model.context_length}
    assert saved["sampling"] == {"temperature": 0.1}


def test_restore_defaults_says_it_restores_this_page_and_what_it_changed(qtbot: QtBot) -> None:
    write_user_config({"sampling": {"temperature": 0.1, "top_k": 7}, "model": {"context_length": 2048}})
    store = SettingsStore()
    dialog = SettingsDialog(store)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.restore_button.text() == "Restore this page's defaults"
    assert "other pages keep theirs" in dialog.restore_button.toolTip()
    dialog.show_page("Sampling")
    dialog.restore_button.click()
    assert dialog.note.isVisible()
    assert dialog.note.text() == (
        "Sampling page: Temperature and Top-k back to the shipped defaults; OK or Apply saves them. "
        "Other pages are unchanged."
    )
    assert _spin(dialog, "model.context_length").value() == 2048  # the Model page kept its value
    dialog.restore_button.click()
    assert dialog.note.text().startswith("The Sampling page already shows the shipped defaults.")


def test_cancel_saves_nothing(qtbot: QtBot, make_dialog: DialogFactory) -> None:
    dialog = make_dialog()
    _type_into(qtbot, _spin(dialog, "model.context_length"), "8192")
    QTest.keyClick(dialog, Qt.Key.Key_Escape)
    assert dialog.result() == QDialog.DialogCode.Rejected
    assert not user_config_path().exists()


def test_ctrl_page_down_moves_through_the_pages(qtbot: QtBot, make_dialog: DialogFactory) -> None:
    dialog = make_dialog()
    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow, timeout=2000)  # shortcuts reach the active window only
    QTest.keyClick(dialog.page_list, Qt.Key.Key_PageDown, Qt.KeyboardModifier.ControlModifier)
    assert dialog.pages.currentIndex() == 1
    QTest.keyClick(dialog.page_list, Qt.Key.Key_PageUp, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClick(dialog.page_list, Qt.Key.Key_PageUp, Qt.KeyboardModifier.ControlModifier)
    assert dialog.pages.currentIndex() == len(PAGES) - 1


# --- the store ------------------------------------------------------------------------------------


def test_the_store_classifies_when_a_change_takes_effect() -> None:
    assert {
        "model.context_length",
        "model.threads",
        "model.gpu_layers",
        "model.batch_size",
    } == NEXT_MODEL_LOAD
    assert all(takes_effect_on_next_load(key) for key in NEXT_MODEL_LOAD)
    for key in ("sampling.temperature", "memory.high_pressure_percent", "chat.response_cache_entries"):
        assert key in APPLIES_NOW and not takes_effect_on_next_load(key) and effect(key) == "now"
    assert "logging.level" in APPLIES_NOW
    assert effect("paths.models_dir") == effect("ollama.host") == "now"
    assert not NEXT_MODEL_LOAD & APPLIES_NOW


def test_an_invalid_update_raises_and_changes_nothing(qtbot: QtBot, store: SettingsStore) -> None:
    before = store.settings
    with qtbot.assertNotEmitted(store.changed), pytest.raises(SettingsChangeError, match=r"model\.threads"):
        store.update({"model.threads": 9999})
    assert store.settings is before and not user_config_path().exists()


def test_an_update_the_environment_overrides_is_saved_and_reported(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REFLEXIA_THREADS", "3")
    store = SettingsStore()
    assert store.source("model.threads").external
    with qtbot.assertNotEmitted(store.changed):
        problems = store.update({"model.threads": 6})
    assert problems == [
        "model.threads was saved, but environment variable REFLEXIA_THREADS overrides it"
        " until that is removed."
    ]
    assert store.settings.model.threads == 3
    assert json.loads(user_config_path().read_text())["model"] == {"threads": 6}
