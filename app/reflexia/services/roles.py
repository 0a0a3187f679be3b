"""The expert role in force and the user's own roles, for every window (GUI thread)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import QObject, QSettings, Signal

from reflexia.core.config.settings import Role
from reflexia.core.roles.library import RoleLibrary

log = logging.getLogger(__name__)

_LAST_ROLE = "roles/last"


class RoleService(QObject):
    """Which role replies use, and the library of roles. Lives on the GUI thread.

    Signals:
        role_changed(Role): the role replies use from now on.
        roles_changed(): a role was created, edited, duplicated or deleted.
    """

    role_changed = Signal(object)
    roles_changed = Signal()

    def __init__(self, library: RoleLibrary, default: str, state: QSettings | None = None) -> None:
        """Start with the role last used (kept in ``state``, the window-state file) or ``default``."""
        super().__init__()
        self.library = library
        self._state = state
        last = state.value(_LAST_ROLE) if state is not None else None
        remembered = library.find(last) if isinstance(last, str) else None
        self._current = remembered or library.find(default) or library.roles()[0]

    def _remember(self) -> None:
        if self._state is not None:
            self._state.setValue(_LAST_ROLE, self._current.name)
            self._state.sync()

    @property
    def current(self) -> Role:
        """The role in force."""
        return self._current

    def roles(self) -> tuple[Role, ...]:
        """Every role, shipped first."""
        return self.library.roles()

    def choose(self, name: str) -> Role:
        """Use the role called ``name`` from the next reply on (unknown names keep the current one)."""
        role = self.library.find(name)
        if role is not None and role != self._current:
            self._current = role
            log.info("role: %s", role.name)
            self._remember()
            self.role_changed.emit(role)
        return self._current

    def problems(self, fields: Mapping[str, Any], *, replacing: str | None = None) -> dict[str, str]:
        """Field problems to show next to the fields of a role being edited."""
        return self.library.problems(fields, replacing=replacing)

    def save(self, fields: Mapping[str, Any], *, replacing: str | None = None) -> Role:
        """Create or change one of the user's roles (RoleError says what is wrong)."""
        role = self.library.save(fields, replacing=replacing)
        self.roles_changed.emit()
        if replacing is not None and replacing == self._current.name:
            self._current = role  # the role in force was edited: the next reply uses the edit
            self._remember()
            self.role_changed.emit(role)
        return role

    def duplicate(self, name: str) -> Role:
        """Copy a role under a new name."""
        role = self.library.duplicate(name)
        self.roles_changed.emit()
        return role

    def delete(self, name: str) -> Role:
        """Delete one of the user's roles; the role in force falls back to the first one."""
        role = self.library.delete(name)
        self.roles_changed.emit()
        if name == self._current.name:
            self.choose(self.library.roles()[0].name)
        return role
