"""The roles a user can pick: the shipped ones and their own.

Shipped roles come from ``config.json`` and cannot be changed (they can be
duplicated); the user's roles live in ``roles.json`` in the config folder,
written atomically. A file that cannot be read is reported with its path and
left untouched, so nothing the user made is lost.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from reflexia.core.atomic_file import atomic_output
from reflexia.core.config.field_errors import field_message
from reflexia.core.config.settings import Role
from reflexia.core.engine.values import SamplingParams
from reflexia.core.errors import ReflexiaError

log = logging.getLogger(__name__)

ROLES_FILE = "roles.json"


class RoleError(ReflexiaError):
    """A role could not be saved, found or read."""


def sampling_for(role: Role, defaults: SamplingParams) -> SamplingParams:
    """The sampling a role asks for: its own values where it has them, the defaults elsewhere."""
    changes: dict[str, Any] = {
        name: value
        for name in ("temperature", "top_p", "max_tokens")
        if (value := getattr(role, name)) is not None
    }
    return replace(defaults, **changes)


def field_problems(fields: Mapping[str, Any]) -> dict[str, str]:
    """Each invalid field of a role being edited, with the message to show next to it."""
    try:
        Role.model_validate(dict(fields))
    except ValidationError as error:
        problems: dict[str, str] = {}
        for item in error.errors():
            name = str(item["loc"][0]) if item["loc"] else "name"
            problems.setdefault(name, _message(item, name))
        return problems
    return {}


def _message(error: ErrorDetails, name: str) -> str:
    field = Role.model_fields.get(name)
    titles = {key: info.title or key for key, info in Role.model_fields.items()}
    return field_message(error, title=field.title if field else None, subject="A role", titles=titles)


class RoleLibrary:
    """Shipped roles followed by the user's. Not thread-safe: the GUI thread (or the CLI) owns it."""

    def __init__(self, shipped: Sequence[Role], folder: Path) -> None:
        self._shipped = tuple(shipped)
        self.path = folder / ROLES_FILE
        self.problem: str | None = None  # why the user's roles could not be read
        try:
            self._custom: list[Role] = self._read()
        except RoleError as error:
            self.problem = str(error)
            self._custom = []

    def _read(self) -> list[Role]:
        if not self.path.exists():
            return []
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            items = data["roles"] if isinstance(data, dict) else None
            if not isinstance(items, list):
                raise ValueError("it holds no list of roles")
            return [Role.model_validate(item) for item in items]
        except (OSError, UnicodeDecodeError, ValueError, KeyError) as exc:
            # ValidationError is a ValueError. Refuse to guess: the file stays as it is.
            raise RoleError(
                f"Your roles in {self.path} could not be read ({exc}); the file was left as it is"
            ) from exc

    def roles(self) -> tuple[Role, ...]:
        """Every role, shipped first."""
        return (*self._shipped, *self._custom)

    def find(self, name: str) -> Role | None:
        """The role called ``name`` (case-insensitive), if any."""
        wanted = name.casefold()
        return next((r for r in self.roles() if r.name.casefold() == wanted), None)

    def is_shipped(self, name: str) -> bool:
        """True for the roles that come with the app (they cannot be edited or deleted)."""
        return any(r.name == name for r in self._shipped)

    def problems(self, fields: Mapping[str, Any], *, replacing: str | None = None) -> dict[str, str]:
        """Field problems of a role about to be saved (``replacing``: the name it had)."""
        problems = field_problems(fields)
        name = str(fields.get("name", "")).strip()
        clash = self.find(name)
        if "name" not in problems and clash is not None and clash.name != replacing:
            problems["name"] = f"A role called {clash.name!r} exists already."
        return problems

    def save(self, fields: Mapping[str, Any], *, replacing: str | None = None) -> Role:
        """Create a role, or replace the user's role called ``replacing``; written at once.

        Raises:
            RoleError: a field is invalid (the first problem), or ``replacing`` is a shipped role.
        """
        if self.problem is not None:  # never overwrite a file we could not read: it holds the user's work
            raise RoleError(self.problem)
        if replacing is not None and self.is_shipped(replacing):
            raise RoleError(f"{replacing!r} comes with Reflexia and cannot be changed: duplicate it instead")
        problems = self.problems(fields, replacing=replacing)
        if problems:
            field, message = next(iter(problems.items()))
            info = Role.model_fields.get(field)
            title = info.title if info is not None and info.title else field
            raise RoleError(f"{title}: {message[:1].lower()}{message[1:]}")
        role = Role.model_validate(dict(fields))
        index = next((i for i, r in enumerate(self._custom) if r.name == replacing), None)
        custom = list(self._custom)
        if index is None:
            custom.append(role)
        else:
            custom[index] = role
        self._write(custom)
        return role

    def duplicate(self, name: str) -> Role:
        """A copy of any role under a new name ("Code Assistant copy", "… copy 2")."""
        original = self.find(name)
        if original is None:
            raise RoleError(f"there is no role called {name!r}")
        base = f"{original.name} copy"
        candidate, number = base, 2
        while self.find(candidate) is not None:
            candidate, number = f"{base} {number}", number + 1
        return self.save(original.model_dump() | {"name": candidate[:60]})

    def delete(self, name: str) -> Role:
        """Delete one of the user's roles and return it (so the caller can offer undo)."""
        if self.is_shipped(name):
            raise RoleError(f"{name!r} comes with Reflexia and cannot be deleted")
        if self.problem is not None:
            raise RoleError(self.problem)
        role = next((r for r in self._custom if r.name == name), None)
        if role is None:
            raise RoleError(f"there is no role called {name!r}")
        self._write([r for r in self._custom if r.name != name])
        return role

    def _write(self, custom: list[Role]) -> None:
        text = json.dumps({"roles": [r.model_dump(exclude_defaults=True) for r in custom]}, indent=2)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(self.path) as tmp:
            Path(tmp).write_text(text + "\n", encoding="utf-8")
        self._custom = custom
        log.info("saved %d custom roles to %s", len(custom), self.path)
