"""The role picker in the window's header: the expert role replies use, and "Edit roles…"."""

from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QWidget

from reflexia.services.roles import RoleService
from reflexia.ui.eliding_combo import ElidingComboBox

_EDIT = "Edit roles…"


class RolePicker(ElidingComboBox):
    """Lists the roles; choosing one applies it from the next reply.

    Signals:
        edit_requested(): the user asked to create or edit roles.
    """

    edit_requested = Signal()

    def __init__(self, roles: RoleService, parent: QWidget | None = None) -> None:
        super().__init__(parent, min_chars=13)  # "Code Assistant" stays whole
        self.setObjectName("rolePicker")
        self.setToolTip("Expert role: who the assistant is for the next replies")
        self.setMaximumWidth(240)  # a long role name is elided
        self._roles = roles
        self._filling = False
        roles.roles_changed.connect(self.refresh)
        roles.role_changed.connect(self._show_current)
        self.activated.connect(self._on_activated)
        self.refresh()

    @Slot()
    def refresh(self) -> None:
        """List the roles again (one was added, edited or deleted)."""
        self._filling = True
        self.clear()
        for role in self._roles.roles():
            self.addItem(role.name)
        self.insertSeparator(self.count())
        self.addItem(_EDIT)
        self._filling = False
        self._show_current()
        self.updateGeometry()  # a longer or shorter name changes the room the header gives it

    @Slot()
    def _show_current(self) -> None:
        index = self.findText(self._roles.current.name)
        if index >= 0:
            self.setCurrentIndex(index)

    @Slot(int)
    def _on_activated(self, index: int) -> None:
        if self._filling:
            return
        text = self.itemText(index)
        if text == _EDIT:
            self._show_current()
            self.edit_requested.emit()
            return
        self._roles.choose(text)
