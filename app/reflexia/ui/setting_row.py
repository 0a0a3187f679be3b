"""One setting's controls in the settings dialog, made from the setting's field metadata.

The field's type picks the control (check box, list, spin box or text), its bounds are
the spin box's range, its title labels it and its description is the help line under it.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import annotated_types
from pydantic.fields import FieldInfo
from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from reflexia.core.config.settings import Settings, setting_field

#: Folder settings get a "Choose…" button; empty means this folder under the app's data.
_FOLDERS: Final[dict[str, Callable[[Settings], Path]]] = {
    "paths.models_dir": Settings.models_dir,
    "paths.vector_db_path": Settings.vector_db_dir,
}

_INT32: Final = 2**31 - 1


def field_bounds(info: FieldInfo) -> tuple[float | None, float | None]:
    """The ``ge``/``le`` bounds of a number field (None where it has none)."""
    low = high = None
    for rule in info.metadata:
        if isinstance(rule, annotated_types.Ge):
            low = rule.ge
        elif isinstance(rule, annotated_types.Le):
            high = rule.le
    return low, high  # type: ignore[return-value]  # the models bound numbers only


def _decimals(value: float) -> int:
    text = repr(float(value))
    return len(text.split(".")[1].rstrip("0")) if "." in text and "e" not in text else 0


def setting_title(key: str) -> str:
    """The title of the dotted setting ``key``: its field's title, else its name in words."""
    info = setting_field(tuple(key.split(".")))
    title = info.title if info is not None else None
    return title or key.rsplit(".", 1)[-1].replace("_", " ").capitalize()


def _home_short(path: Path) -> str:
    # "~/.local/share/Reflexia/models" fits the field where the full path would be cut off.
    return f"~/{path.relative_to(Path.home())}" if path.is_relative_to(Path.home()) else str(path)


class SettingRow:
    """One setting's controls: its title, editor, help line, note and problem line."""

    def __init__(self, key: str, info: FieldInfo, settings: Settings, defaults: Settings) -> None:
        self.key = key
        self.info = info
        self.title = setting_title(key)
        self.choose_button: QPushButton | None = None
        annotation = info.annotation
        self.editor: QWidget = self._make_editor(annotation, settings, defaults)
        self.title_widget: QLabel | QCheckBox
        if isinstance(self.editor, QCheckBox):
            self.title_widget = self.editor
        else:
            self.title_widget = QLabel(self.title)
            self.title_widget.setObjectName("fieldTitle")
            self.title_widget.setBuddy(self.editor)
        self.editor.setAccessibleName(self.title)
        description = info.description or ""
        # A description in lower case finishes the title's sentence ("Pressure must last (s)" …
        # "before it counts"): it reads best right after the value.
        self.suffix_label = QLabel(description) if description[:1].islower() else None
        if self.suffix_label is not None:
            self.suffix_label.setObjectName("fieldSuffix")
        help_text = "" if self.suffix_label is not None else description
        self.help_label = self._line("fieldHelp", help_text)
        self.note_label = self._line("fieldNote", "")
        self.problem_label = self._line("fieldProblem", "")
        self.status_label = self._line("fieldStatus", "")  # how the setting is doing now (the shortcut)
        if description or help_text:
            self.editor.setToolTip(help_text or description)
            self.editor.setAccessibleDescription(help_text or description)
        self.locked = False
        self.original: Any = None
        self.set_value(self.value_in(settings))
        self.original = self.value_in(settings)

    @staticmethod
    def _line(name: str, text: str) -> QLabel:
        label = QLabel(text)
        label.setTextFormat(Qt.TextFormat.PlainText)  # error texts and paths are shown as they are
        label.setObjectName(name)
        label.setWordWrap(True)
        label.setVisible(bool(text))
        return label

    def value_in(self, settings: Settings) -> Any:
        """This setting's value in ``settings``."""
        section, name = self.key.split(".")
        return getattr(getattr(settings, section), name)

    def _make_editor(self, annotation: Any, settings: Settings, defaults: Settings) -> QWidget:
        if annotation is bool:
            return QCheckBox(self.title)
        if typing.get_origin(annotation) is typing.Literal:
            combo = QComboBox()
            combo.addItems([str(option) for option in typing.get_args(annotation)])
            return combo
        if annotation in (int, float):
            return self._make_spin_box(annotation, settings, defaults)
        line = QLineEdit()
        line.setClearButtonEnabled(True)
        folder_of = _FOLDERS.get(self.key)
        if folder_of is not None:
            if self.value_in(defaults) == "":
                line.setPlaceholderText(f"Default: {_home_short(folder_of(defaults))}")
            self.choose_button = QPushButton("Choose…")
            self.choose_button.setObjectName("chooseFolder")
            self.choose_button.setToolTip(f"Choose the {self.title.lower()}")
        return line

    def _make_spin_box(self, annotation: Any, settings: Settings, defaults: Settings) -> QAbstractSpinBox:
        low, high = field_bounds(self.info)
        low = -_INT32 if low is None else low
        high = _INT32 if high is None else high
        spin: QSpinBox | QDoubleSpinBox
        if annotation is int and low >= -_INT32 and high <= _INT32:
            spin = QSpinBox()
            spin.setRange(int(low), int(high))
        else:  # floats, and integers too wide for QSpinBox (the seed)
            spin = QDoubleSpinBox()
            if annotation is int:
                spin.setDecimals(0)
            else:
                needed = max(_decimals(self.value_in(settings)), _decimals(self.value_in(defaults)))
                spin.setDecimals(min(4, max(1 if high > 10 else 2, needed)))
                spin.setSingleStep(0.01 if high <= 1 else 0.05 if high <= 10 else 1.0)
            spin.setRange(low, high)
        # Typing below the minimum stays visible (with its problem) until the field is left.
        spin.setCorrectionMode(QAbstractSpinBox.CorrectionMode.CorrectToNearestValue)
        spin.setMinimumWidth(140)
        spin.setAlignment(Qt.AlignmentFlag.AlignRight)
        return spin

    def read(self) -> tuple[Any, str | None]:
        """The value the editor holds now, or a problem if its text is no number."""
        editor = self.editor
        if isinstance(editor, QCheckBox):
            return editor.isChecked(), None
        if isinstance(editor, QComboBox):
            return editor.currentText(), None
        if isinstance(editor, QLineEdit):
            return editor.text().strip(), None
        assert isinstance(editor, QSpinBox | QDoubleSpinBox)
        text = editor.cleanText().strip()
        if self.info.annotation is int:
            try:
                return int(text), None
            except ValueError:
                return None, "Enter a whole number."
        number, ok = editor.locale().toDouble(text)
        return (number, None) if ok else (None, "Enter a number.")

    def set_value(self, value: Any) -> None:
        """Show ``value`` in the editor."""
        editor = self.editor
        if isinstance(editor, QCheckBox):
            editor.setChecked(bool(value))
        elif isinstance(editor, QComboBox):
            editor.setCurrentText(str(value))
        elif isinstance(editor, QLineEdit):
            editor.setText(str(value))
            editor.setCursorPosition(0)
        elif isinstance(editor, QSpinBox):
            editor.setValue(int(value))
        elif isinstance(editor, QDoubleSpinBox):
            editor.setValue(float(value))

    def is_changed(self) -> bool:
        """Whether the editor holds a value other than the one in force."""
        value, problem = self.read()
        if problem is not None:
            return False
        if isinstance(self.editor, QDoubleSpinBox):
            return bool(abs(value - self.original) >= 0.5 * 10 ** -self.editor.decimals())
        return bool(value != self.original)

    def show_problem(self, problem: str | None) -> None:
        """Show ``problem`` in red under the field, or hide the line."""
        self.problem_label.setText(problem or "")
        self.problem_label.setVisible(problem is not None)

    def show_status(self, status: str) -> None:
        """Say how the setting is doing now (e.g. a shortcut the system refused); "" hides the line."""
        self.status_label.setText(status)
        self.status_label.setVisible(bool(status))

    def set_locked(self, explanation: str | None) -> None:
        """Make the field read-only with ``explanation``, or editable again with None."""
        self.locked = explanation is not None
        editor = self.editor
        if isinstance(editor, QLineEdit | QAbstractSpinBox):
            editor.setReadOnly(self.locked)
            if isinstance(editor, QAbstractSpinBox):
                symbols = QAbstractSpinBox.ButtonSymbols
                editor.setButtonSymbols(symbols.NoButtons if self.locked else symbols.UpDownArrows)
        else:
            editor.setEnabled(not self.locked)
        if self.choose_button is not None:
            self.choose_button.setEnabled(not self.locked)
        self.note_label.setText(explanation or "")
        self.note_label.setVisible(self.locked)

    def owns(self, widget: QObject | None) -> bool:
        """Whether ``widget`` is the editor (or a spin box's line edit)."""
        editor = self.editor
        return widget is editor or (isinstance(editor, QAbstractSpinBox) and widget is editor.lineEdit())

    def focus_widgets(self) -> list[QWidget]:
        """The row's widgets in tab order."""
        return [self.editor] + ([self.choose_button] if self.choose_button is not None else [])
