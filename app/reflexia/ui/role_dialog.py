"""Create, edit, duplicate and delete expert roles; problems are shown next to the field."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from reflexia.core.config.field_errors import format_number
from reflexia.core.config.settings import Role
from reflexia.core.errors import ReflexiaError
from reflexia.core.models.ladder import LADDER
from reflexia.services.roles import RoleService
from reflexia.ui.markup import plain_label, set_label_text
from reflexia.ui.setting_row import field_bounds

_ANY_RUNG = "Any rung"


def _plain(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value  # "0 to 5", not "0.0 to 5.0"


def _problem_label() -> QLabel:
    label = plain_label()
    label.setObjectName("fieldProblem")
    label.setWordWrap(True)
    label.hide()
    return label


def _spin_box(name: str, step: float = 1.0) -> QSpinBox | QDoubleSpinBox:
    """A spin box over the range the role's field allows (the model is the one place it is written)."""
    low, high = field_bounds(Role.model_fields[name])
    assert low is not None and high is not None, f"Role.{name} has no bounds"
    spin: QSpinBox | QDoubleSpinBox
    if Role.model_fields[name].annotation == int | None:
        spin = QSpinBox()
        spin.setRange(int(low), int(high))
    else:
        spin = QDoubleSpinBox()
        spin.setRange(low, high)
        spin.setSingleStep(step)
    return spin


class _Optional(QWidget):
    """A value that may be left to the default: a check box beside a spin box and its allowed range.

    The range is shown because the spin box refuses a keystroke past it without a word: typing
    9 into a temperature that stops at 5 would otherwise look like a broken field.
    """

    def __init__(self, spin: QSpinBox | QDoubleSpinBox, label: str) -> None:
        super().__init__()
        self.check = QCheckBox(label)
        self.spin = spin
        allowed = f"{format_number(_plain(spin.minimum()))} to {format_number(_plain(spin.maximum()))}"
        self.range_label = plain_label(allowed)
        self.range_label.setObjectName("fieldRange")
        spin.setToolTip(f"From {allowed}")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.check)
        row.addWidget(spin, 1)
        row.addWidget(self.range_label)
        self.check.toggled.connect(spin.setEnabled)
        spin.setEnabled(False)

    def value(self) -> float | int | None:
        return self.spin.value() if self.check.isChecked() else None

    def set_value(self, value: float | None) -> None:
        self.check.setChecked(value is not None)
        if value is not None:
            self.spin.setValue(value)  # type: ignore[arg-type]


class RoleDialog(QDialog):
    """The roles, with a form for the selected one. Shipped roles can only be duplicated."""

    def __init__(self, roles: RoleService, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("roleDialog")
        self.setWindowTitle("Expert roles")
        self.resize(760, 520)
        self._roles = roles
        self._editing: str | None = None  # the user's role being edited; None: a new role
        self._read_only = False  # a shipped role is shown, not edited

        self.role_list = QListWidget()
        self.role_list.setMinimumWidth(200)
        self.new_button = QPushButton("New")
        self.duplicate_button = QPushButton("Duplicate")
        self.delete_button = QPushButton("Delete")
        left = QVBoxLayout()
        left.addWidget(self.role_list, 1)
        buttons = QHBoxLayout()
        for button in (self.new_button, self.duplicate_button, self.delete_button):
            buttons.addWidget(button)
        left.addLayout(buttons)

        self.name = QLineEdit()
        self.system_prompt = QPlainTextEdit()
        self.system_prompt.setPlaceholderText("Who the assistant is and how it answers")
        self.temperature = _Optional(_spin_box("temperature", 0.1), "Own value")
        self.top_p = _Optional(_spin_box("top_p", 0.05), "Own value")
        self.max_tokens = _Optional(_spin_box("max_tokens"), "Own value")
        self.use_documents = QCheckBox("Answer from your documents")
        self.min_rung = QComboBox()
        self.min_rung.addItems([_ANY_RUNG, *LADDER])
        self.min_rung.setToolTip("The memory governor never goes below this rung while this role is in use")
        self.problems: dict[str, QLabel] = {}
        form = QFormLayout()
        for key, title, widget in (
            ("name", "Name", self.name),
            ("system_prompt", "System prompt", self.system_prompt),
            ("temperature", "Temperature", self.temperature),
            ("top_p", "Top-p", self.top_p),
            ("max_tokens", "Max reply tokens", self.max_tokens),
            ("use_documents", "Documents", self.use_documents),
            ("min_rung", "Lowest quantization", self.min_rung),
        ):
            cell = QWidget()
            column = QVBoxLayout(cell)
            column.setContentsMargins(0, 0, 0, 0)
            column.setSpacing(2)
            column.addWidget(widget)
            self.problems[key] = _problem_label()
            column.addWidget(self.problems[key])
            form.addRow(title, cell)
        self.note = plain_label()  # it names roles, which are the user's text
        self.note.setObjectName("dialogNote")
        self.note.setWordWrap(True)
        self.save_button = QPushButton("Save")
        self.save_button.setDefault(True)
        close = QPushButton("Close")
        close.clicked.connect(self.accept)
        bottom = QHBoxLayout()
        bottom.addWidget(self.note, 1)
        bottom.addWidget(self.save_button)
        bottom.addWidget(close)
        right = QVBoxLayout()
        right.addLayout(form, 1)
        right.addLayout(bottom)
        layout = QHBoxLayout(self)
        layout.addLayout(left)
        layout.addLayout(right, 1)

        self.role_list.currentItemChanged.connect(self._on_selected)
        self.new_button.clicked.connect(self.new_role)
        self.duplicate_button.clicked.connect(self.duplicate_role)
        self.delete_button.clicked.connect(self.delete_role)
        self.save_button.clicked.connect(self.save_role)
        self.name.textEdited.connect(self._validate)
        self.system_prompt.textChanged.connect(self._validate)
        self._fill_list(roles.current.name)

    # -- the list ----------------------------------------------------------
    def _fill_list(self, select: str | None) -> None:
        self.role_list.blockSignals(True)
        self.role_list.clear()
        for role in self._roles.roles():
            shipped = self._roles.library.is_shipped(role.name)
            item = QListWidgetItem(f"{role.name}  (shipped)" if shipped else role.name)
            item.setData(Qt.ItemDataRole.UserRole, role.name)
            self.role_list.addItem(item)
        self.role_list.blockSignals(False)
        names = [r.name for r in self._roles.roles()]
        self.role_list.setCurrentRow(names.index(select) if select in names else 0)

    @Slot(QListWidgetItem, QListWidgetItem)
    def _on_selected(self, item: QListWidgetItem | None, _previous: QListWidgetItem | None) -> None:
        if item is None:
            return
        role = self._roles.library.find(str(item.data(Qt.ItemDataRole.UserRole)))
        if role is not None:
            self._show(role)

    def _show(self, role: Role) -> None:
        shipped = self._roles.library.is_shipped(role.name)
        self._read_only = shipped
        self._editing = None if shipped else role.name
        self.name.setText(role.name)
        self.system_prompt.setPlainText(role.system_prompt)
        self.temperature.set_value(role.temperature)
        self.top_p.set_value(role.top_p)
        self.max_tokens.set_value(role.max_tokens)
        self.use_documents.setChecked(role.use_documents)
        self.min_rung.setCurrentText(role.min_rung or _ANY_RUNG)
        for widget in (self.name, self.system_prompt, self.temperature, self.top_p, self.max_tokens):
            widget.setEnabled(not shipped)
        self.use_documents.setEnabled(not shipped)
        self.min_rung.setEnabled(not shipped)
        self.save_button.setEnabled(not shipped)
        self.delete_button.setEnabled(not shipped)
        set_label_text(
            self.note, "Shipped with Reflexia: duplicate it to make your own version." if shipped else ""
        )
        self._validate()

    # -- editing -----------------------------------------------------------
    def fields(self) -> dict[str, Any]:
        """The form's values, as a role's fields."""
        rung = self.min_rung.currentText()
        return {
            "name": self.name.text(),
            "system_prompt": self.system_prompt.toPlainText(),
            "temperature": self.temperature.value(),
            "top_p": self.top_p.value(),
            "max_tokens": self.max_tokens.value(),
            "use_documents": self.use_documents.isChecked(),
            "min_rung": None if rung == _ANY_RUNG else rung,
        }

    @Slot()
    def _validate(self) -> bool:
        if self._read_only:
            for label in self.problems.values():
                label.hide()
            return False
        problems = self._roles.problems(self.fields(), replacing=self._editing)
        for key, label in self.problems.items():
            set_label_text(label, problems.get(key, ""))
            label.setVisible(key in problems)
        self.save_button.setEnabled(not problems)
        return not problems

    @Slot()
    def new_role(self) -> None:
        """An empty form for a new role."""
        self.role_list.clearSelection()
        blank = Role(name="New role", system_prompt="You are a helpful assistant.")
        self._show(blank)
        self._editing = None
        self._read_only = False
        for widget in (self.name, self.system_prompt, self.temperature, self.top_p, self.max_tokens):
            widget.setEnabled(True)
        self.use_documents.setEnabled(True)
        self.min_rung.setEnabled(True)
        self.delete_button.setEnabled(False)
        set_label_text(self.note, "")
        self.name.selectAll()
        self.name.setFocus()
        self._validate()

    @Slot()
    def save_role(self) -> None:
        """Save the form (a new role, or the user's role being edited)."""
        if not self._validate():
            return
        try:
            role = self._roles.save(self.fields(), replacing=self._editing)
        except ReflexiaError as error:
            set_label_text(self.note, str(error))
            return
        self._fill_list(role.name)
        set_label_text(self.note, f"Saved {role.name}.")

    @Slot()
    def duplicate_role(self) -> None:
        """Copy the selected role under a new name, ready to edit."""
        item = self.role_list.currentItem()
        if item is None:
            return
        role = self._roles.duplicate(str(item.data(Qt.ItemDataRole.UserRole)))
        self._fill_list(role.name)
        self.name.setFocus()

    @Slot()
    def delete_role(self) -> None:
        """Delete the user's role being shown."""
        if self._editing is None:
            return
        deleted = self._roles.delete(self._editing)
        self._fill_list(None)
        set_label_text(self.note, f"Deleted {deleted.name}.")
