"""`reflexia roles` and `reflexia chat --role`."""

from __future__ import annotations

import json
from pathlib import Path

from reflexia.core.config import paths
from tests.e2e.test_cli import assert_one_line_error, assert_success, reflexia_cli


def test_roles_lists_the_shipped_roles_and_the_users_own() -> None:
    folder = paths.config_dir()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "roles.json").write_text(
        json.dumps({"roles": [{"name": "Pirate", "system_prompt": "Arr.", "temperature": 1.2}]})
    )
    run = reflexia_cli("roles", "--json")
    assert_success(run)
    report = json.loads(run.stdout)
    roles = {role["name"]: role for role in report["roles"]}
    shipped = {"Code Assistant", "Data Analyst", "Technical Writer", "Research Assistant"}
    assert shipped | {"Pirate"} <= set(roles)
    assert roles["Pirate"]["shipped"] is False and roles["Code Assistant"]["shipped"] is True
    assert roles["Research Assistant"]["min_rung"] == "q5_k_m"
    text = reflexia_cli("roles")
    assert_success(text)
    assert "Pirate" in text.stdout and "yours" in text.stdout


def test_roles_names_a_bad_hand_edited_role_in_one_line_and_lists_the_others() -> None:
    folder = paths.config_dir()
    folder.mkdir(parents=True, exist_ok=True)
    roles = [{"name": "Pirate", "system_prompt": "Arr."}, {"name": "Storm", "system_prompt": "x", "top_p": 2}]
    (folder / "roles.json").write_text(json.dumps({"roles": roles}))
    run = reflexia_cli("roles")
    assert run.returncode == 0, run.describe()  # the shipped roles and Pirate still work
    assert "Pirate" in run.stdout and "Storm" not in run.stdout
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "'Storm' (top-p: must be at most 1)" in lines[0], run.stderr


def test_chat_answers_as_the_role_asked_for(tiny_model: Path) -> None:
    run = reflexia_cli("chat", "--model", tiny_model, "--prompt", "Hi", "--role", "code assistant", "--json",
                       "--max-tokens", "4")  # fmt: skip
    assert_success(run)
    assert json.loads(run.stdout)["role"] == "Code Assistant"
    bad = reflexia_cli("chat", "--model", tiny_model, "--prompt", "Hi", "--role", "Nope")
    assert_one_line_error(bad, "no role called 'Nope'", "Code Assistant")
