"""The roles a user can pick: the shipped ones and their own.

Shipped roles come from ``config.json`` and cannot be changed (they can be
duplicated); the user's roles live in ``roles.json`` in the config folder,
written atomically. A file that cannot be read is reported with its path and
left untouched, so nothing the user made is lost. An entry with a bad value (a
hand edit) is left out and named in one line while the others load; the file is
not written either until it is fixed, or saving would drop that entry.
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
from reflexia.core.config.field_errors import field_message, in_sentence
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


def _bad_entry(number: int, item: object, error: ValidationError) -> str:
    """``'Storm' (temperature: must be at most 5)``: the entry and its first bad field."""
    name = item.get("name") if isinstance(item, dict) else None
    called = repr(name) if isinstance(name, str) and name.strip() else f"number {number}"
    first = error.errors()[0]
    field = str(first["loc"][0]) if first["loc"] else ""
    info = Role.model_fields.get(field)
    title = in_sentence(info.title) if info is not None and info.title else field or "the role"
    message = _message(first, field)
    return f"{called} ({title}: {message[:1].lower()}{message[1:].removesuffix('.')})"


class RoleLibrary:
    """Shipped roles followed by the user's. Not thread-safe: the GUI thread (or the CLI) owns it."""

    def __init__(self, shipped: Sequence[Role], folder: Path) -> None:
        self._shipped = tuple(shipped)
        self.path = folder / ROLES_FILE
        # Why some or all of the user's roles could not be read; while set, the file is never written.
        self.problem: str | None = None
        try:
            self._custom, self.problem = self._read()
        except RoleError as error:
            self.problem = str(error)
            self._custom = []

    def _read(self) -> tuple[list[Role], str | None]:
        """The user's roles that are valid, and one line naming those that are not."""
        if not self.path.exists():
            return [], None
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            items = data["roles"] if isinstance(data, dict) else None
            if not isinstance(items, list):
                raise ValueError("it holds no list of roles")
        except (OSError, UnicodeDecodeError, ValueError, KeyError) as exc:
            # Refuse to guess: the file stays as it is.
            raise RoleError(
                f"Your roles in {self.path} could not be read ({exc}); the file was left as it is"
            ) from exc
        roles: list[Role] = []
        bad: list[str] = []
        for number, item in enumerate(items, start=1):
            try:
                roles.append(Role.model_validate(item))
            except ValidationError as exc:  # one hand-edited value must not cost the other roles
                bad.append(_bad_entry(number, item, exc))
        if not bad:
            return roles, None
        which = (
            f"Your role {bad[0]} is" if len(bad) == 1 else f"{len(bad)} of your roles ({'; '.join(bad)}) are"
        )
        return roles, (
            f"{which} not loaded from {self.path}: fix {'it' if len(bad) == 1 else 'them'} in the file. "
            "Until then Reflexia saves no role changes, so the file stays as you wrote it."
        )

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
