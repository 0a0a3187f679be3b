"""Expert roles in the window: the picker, the dialog, replies made with a role, the governor's floor."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtGui import QTextDocument
from pytestqt.qtbot import QtBot

from reflexia.app import ReflexiaApp
from reflexia.core.config import paths


def _load(qtbot: QtBot, app: ReflexiaApp, model: Path) -> None:
    qtbot.waitUntil(lambda: app.library.snapshot is not None, timeout=10_000)
    with qtbot.waitSignal(app.inference.model_loaded, timeout=20_000):
        app.load_model(model)


def _pick(app: ReflexiaApp, name: str) -> None:
    picker = app.window.role_picker
    index = picker.findText(name)
    assert index >= 0, [picker.itemText(i) for i in range(picker.count())]
    picker.setCurrentIndex(index)
    picker.activated.emit(index)


def test_a_role_applies_from_the_next_reply_and_each_reply_says_which(
    qtbot: QtBot, make_app, tiny_model: Path
) -> None:
    app = make_app({"sampling": {"max_tokens": 8}})
    _load(qtbot, app, tiny_model)
    assert app.window.role_picker.currentText() == "Assistant"
    # A role of its own with a bounded reply (Code Assistant's 2,048 tokens made the wait below
    # depend on the machine's speed), whose sampling differs from the default 8 tokens.
    app.roles.save(
        {"name": "Brief Coder", "system_prompt": "You are a senior software engineer.", "max_tokens": 40}
    )
    with qtbot.waitSignal(app.chat.reply_finished, timeout=60_000):
        app.window.send("First")
    _pick(app, "Brief Coder")
    with qtbot.waitSignal(app.chat.reply_finished, timeout=60_000) as finished:
        app.window.send("Second")
    footers = [b.footer.text().split(" · ") for b in app.window.chat_view.bubbles if b.role == "assistant"]
    assert "Assistant" in footers[0] and "Brief Coder" not in footers[0]
    assert "Brief Coder" in footers[1]
    # The role's own sampling: up to 40 tokens, so the default 8 no longer binds.
    stats = finished.args[0].stats
    assert 8 < stats.completion_tokens <= 40 or stats.stop_reason == "eos"
    assert app.chat.conversation.messages()[0].content.startswith("You are a senior software engineer")


def test_roles_are_made_edited_and_deleted_in_the_dialog_with_problems_next_to_the_field(
    qtbot: QtBot, make_app
) -> None:
    app = make_app()
    dialog = app.window.edit_roles()
    qtbot.addWidget(dialog)
    dialog.new_role()
    dialog.name.setText("")
    dialog.name.textEdited.emit("")
    assert dialog.problems["name"].isVisible() and not dialog.save_button.isEnabled()
    dialog.name.setText("Data Analyst")
    dialog.name.textEdited.emit("Data Analyst")
    assert "exists already" in dialog.problems["name"].text()
    dialog.name.setText("Pirate")
    dialog.name.textEdited.emit("Pirate")
    dialog.system_prompt.setPlainText("Talk like a pirate.")
    dialog.temperature.check.setChecked(True)
    dialog.temperature.spin.setValue(1.2)
    assert dialog.save_button.isEnabled()
    dialog.save_button.click()
    assert app.window.role_picker.findText("Pirate") >= 0  # the picker follows at once
    assert (
        app.roles.library.find("Pirate") is not None and app.roles.library.find("Pirate").temperature == 1.2
    )

    # Shipped roles are read-only; duplicating one gives an editable copy.
    dialog.role_list.setCurrentRow(0)
    assert not dialog.save_button.isEnabled() and not dialog.delete_button.isEnabled()
    dialog.duplicate_role()
    assert dialog.name.text() == "Assistant copy" and dialog.name.isEnabled()
    dialog.delete_role()
    assert app.window.role_picker.findText("Assistant copy") == -1


def test_the_dialog_shows_each_number_fields_range_and_says_problems_in_the_users_words(
    qtbot: QtBot, make_app
) -> None:
    app = make_app()
    dialog = app.window.edit_roles()
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.new_role()
    dialog.temperature.check.setChecked(True)
    spin = dialog.temperature.spin
    spin.selectAll()
    qtbot.keyClicks(spin, "9")
    # The spin box refuses 9 (the field stops at 5): the range beside it says why.
    assert spin.value() != 9
    assert dialog.temperature.range_label.isVisible() and dialog.temperature.range_label.text() == "0 to 5"
    assert dialog.top_p.range_label.text() == "0 to 1"
    assert dialog.max_tokens.range_label.text() == "1 to 1,048,576"

    dialog.name.setText("")
    dialog.name.textEdited.emit("")
    assert dialog.problems["name"].text() == "A role needs a name."
    dialog.system_prompt.setPlainText("")
    assert dialog.problems["system_prompt"].text() == "A role needs a system prompt."
    assert not dialog.save_button.isEnabled()


def test_a_hand_edited_bad_role_is_named_at_start_up_and_the_others_are_in_the_picker(
    qtbot: QtBot, make_app
) -> None:
    folder = paths.config_dir()
    folder.mkdir(parents=True, exist_ok=True)
    good = {"name": "Pirate", "system_prompt": "Talk like a pirate."}
    bad = {"name": "Storm", "system_prompt": "Rage.", "temperature": 9}
    (folder / "roles.json").write_text(json.dumps({"roles": [good, bad]}), encoding="utf-8")
    app = make_app()
    assert app.window.role_picker.findText("Pirate") >= 0
    assert app.window.role_picker.findText("Storm") == -1
    shown = QTextDocument()
    shown.setHtml(app.window.banner.label.text())  # the banner is rich text: read it as the user does
    banner = shown.toPlainText()
    assert app.window.banner.isVisible()
    assert "'Storm' (temperature: must be at most 5)" in banner and "validation error" not in banner


def test_the_governor_never_goes_below_the_roles_lowest_rung(
    qtbot: QtBot, make_app, tmp_path: Path, pressure_settings, memory_eater
) -> None:
    from reflexia.core.models.model_factory import make_model
    from reflexia.core.models.quantizer import quantize_model

    folder = tmp_path / "family"
    quantize_model(make_model(folder / "small-f16.gguf", size="small", seed=6), "q4_k_m")
    memory = {**pressure_settings["memory"], "make_rungs_automatically": True}  # the user agreed to new files
    app = make_app({**pressure_settings, "memory": memory}, models_dir=folder)
    app.roles.save({"name": "Careful", "system_prompt": "Be exact.", "min_rung": "q8_0"})
    _pick(app, "Careful")
    _load(qtbot, app, folder / "small-f16.gguf")
    with qtbot.waitSignal(app.governor.switched, timeout=30_000) as switched:
        memory_eater()
    # Without the floor it steps down to q4_k_m (test_governor_integration); with it, the lowest
    # allowed rung is q8_0, which the quantizer makes from the f16 file.
    assert switched.args[0].to_rung == "q8_0" and switched.args[0].needs_quantization
    qtbot.waitUntil(
        lambda: app.inference.model is not None and app.inference.model.quantization == "q8_0", timeout=30_000
    )
