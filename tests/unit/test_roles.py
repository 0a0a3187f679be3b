"""Expert roles: the shipped ones, the user's own, and what a role changes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reflexia.core.config import paths
from reflexia.core.config.settings import load_settings
from reflexia.core.engine.values import SamplingParams
from reflexia.core.roles.library import RoleError, RoleLibrary, sampling_for


@pytest.fixture
def library() -> RoleLibrary:
    return RoleLibrary(load_settings().settings.roles, paths.config_dir())


def test_the_shipped_roles_are_there_with_their_own_settings(library: RoleLibrary) -> None:
    names = [r.name for r in library.roles()]
    assert {"Code Assistant", "Data Analyst", "Technical Writer", "Research Assistant"} <= set(names)
    code = library.find("code assistant")
    assert code is not None and code.temperature == 0.2 and code.min_rung == "q4_k_m"
    research = library.find("Research Assistant")
    assert research is not None and research.use_documents
    sampling = sampling_for(code, SamplingParams(temperature=0.7, top_p=0.95, max_tokens=1024))
    assert (sampling.temperature, sampling.top_p, sampling.max_tokens) == (0.2, 0.95, 2048)


def test_a_users_role_is_saved_and_read_back(library: RoleLibrary) -> None:
    library.save({"name": "Pirate", "system_prompt": "Talk like a pirate.", "temperature": 1.1})
    again = RoleLibrary(load_settings().settings.roles, paths.config_dir())
    pirate = again.find("Pirate")
    assert pirate is not None and pirate.temperature == 1.1 and pirate.system_prompt == "Talk like a pirate."
    edited = again.save({"name": "Sea captain", "system_prompt": "Talk like a captain."}, replacing="Pirate")
    assert [r.name for r in again.roles()][-1] == edited.name and again.find("Pirate") is None
    copy = again.duplicate("Code Assistant")
    assert (
        copy.name == "Code Assistant copy"
        and again.duplicate("Code Assistant").name == "Code Assistant copy 2"
    )
    again.delete("Sea captain")
    assert [r.name for r in RoleLibrary(load_settings().settings.roles, paths.config_dir()).roles()][-2:] == [
        "Code Assistant copy",
        "Code Assistant copy 2",
    ]


def test_shipped_roles_cannot_be_changed_or_deleted(library: RoleLibrary) -> None:
    with pytest.raises(RoleError, match="duplicate it instead"):
        library.save({"name": "Code Assistant", "system_prompt": "x"}, replacing="Code Assistant")
    with pytest.raises(RoleError, match="cannot be deleted"):
        library.delete("Data Analyst")


def test_problems_are_named_per_field(library: RoleLibrary) -> None:
    problems = library.problems({"name": "", "system_prompt": "", "temperature": 9})
    assert set(problems) == {"name", "system_prompt", "temperature"}
    assert problems == {
        "name": "A role needs a name.",
        "system_prompt": "A role needs a system prompt.",
        "temperature": "Must be at most 5.",
    }
    assert "exists already" in library.problems({"name": "data analyst", "system_prompt": "x"})["name"]
    with pytest.raises(RoleError, match="Name: must not start or end with spaces"):
        library.save({"name": " padded ", "system_prompt": "x"})


def test_an_unreadable_roles_file_is_reported_and_never_overwritten(tmp_path: Path) -> None:
    folder = paths.config_dir()
    folder.mkdir(parents=True, exist_ok=True)
    broken = folder / "roles.json"
    broken.write_text('{"roles": [{"name": "Mine", "system_prompt": ', encoding="utf-8")
    before = broken.read_bytes()
    library = RoleLibrary(load_settings().settings.roles, folder)
    assert library.problem is not None and str(broken) in library.problem
    assert library.find("Code Assistant") is not None  # the shipped roles still work
    with pytest.raises(RoleError):
        library.save({"name": "New", "system_prompt": "x"})
    assert broken.read_bytes() == before


def test_one_bad_role_is_named_in_one_line_and_the_others_still_load() -> None:
    folder = paths.config_dir()
    folder.mkdir(parents=True, exist_ok=True)
    edited = folder / "roles.json"
    good = {"name": "Pirate", "system_prompt": "Talk like a pirate."}
    bad = {"name": "Storm", "system_prompt": "Rage.", "temperature": 9}
    edited.write_text(json.dumps({"roles": [good, bad]}), encoding="utf-8")
    before = edited.read_bytes()

    library = RoleLibrary(load_settings().settings.roles, folder)

    assert library.find("Pirate") is not None and library.find("Storm") is None
    assert library.find("Code Assistant") is not None
    problem = library.problem
    assert problem is not None and "\n" not in problem
    assert "'Storm' (temperature: must be at most 5)" in problem and str(edited) in problem
    assert "validation error" not in problem.lower() and "pydantic" not in problem.lower()
    # Saving would drop Storm's entry: nothing is written until the file is fixed.
    with pytest.raises(RoleError, match="Storm"):
        library.save({"name": "New", "system_prompt": "x"})
    with pytest.raises(RoleError, match="Storm"):
        library.delete("Pirate")
    assert edited.read_bytes() == before
