"""`reflexia history` as a user runs it, over a history the app wrote.

The test writes conversations with the store the app uses, into the history file
under the test's own REFLEXIA_HOME, then runs ``python -m reflexia history ...``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from reflexia.core.config import paths
from reflexia.core.history.store import HistoryStore
from tests.e2e.test_cli import assert_one_line_error, assert_success, reflexia_cli


def history_file() -> Path:
    return paths.data_dir() / "history.sqlite3"


@pytest.fixture
def store() -> Iterator[HistoryStore]:
    with HistoryStore(history_file()) as opened:
        yield opened


@pytest.fixture
def history(store: HistoryStore) -> dict[str, str]:
    """Two conversations, as the app would have saved them; the bread one is the most recent."""
    eggs = store.create_conversation(expert_role="Chef")
    store.add_message(eggs, "system", "You are a chef.")
    store.add_message(eggs, "user", "How long should I boil an egg for a jammy yolk?")
    store.add_message(
        eggs, "assistant", "Seven minutes, then straight into iced water.",
        model_ref="/models/tiny-q4_k_m.gguf", rung="q4_k_m",
        stats={"completion_tokens": 9, "tokens_per_s": 40.0, "ttft_s": 0.1},
    )  # fmt: skip
    bread = store.create_conversation()
    store.add_message(bread, "user", "My sourdough starter smells of nail varnish. Is it dead?")
    reply = store.add_message(
        bread, "assistant", "No, it is hungry:", status="pending", model_ref="ollama:llama3.2"
    )
    store.update_message(reply, content="No, it is hungry: feed it twice a day.", status="stopped")
    return {"eggs": eggs, "bread": bread}


def test_list_shows_titles_dates_and_counts_newest_first(history: dict[str, str]) -> None:
    run = reflexia_cli("history", "list")
    assert_success(run)
    header, *rows = run.stdout.splitlines()
    assert header.split() == ["ID", "UPDATED", "MESSAGES", "TITLE"]
    assert len(rows) == 2
    assert rows[0].startswith(history["bread"][:8])
    assert rows[0].endswith("My sourdough starter smells of nail varnish. Is it dead?")
    assert rows[0].split()[3] == "2"
    assert rows[1].startswith(history["eggs"][:8])
    assert "How long should I boil an egg for a jammy yolk?  [Chef]" in rows[1]
    assert rows[1].split()[3] == "3"


def test_list_json_is_stable_machine_output(history: dict[str, str]) -> None:
    run = reflexia_cli("history", "list", "--json")
    assert_success(run)
    listed = json.loads(run.stdout)["conversations"]
    assert [c["id"] for c in listed] == [history["bread"], history["eggs"]]
    assert set(listed[1]) == {"id", "title", "created", "updated", "messages", "role"}
    assert (listed[1]["messages"], listed[1]["role"]) == (3, "Chef")


def test_an_empty_history_says_so() -> None:
    run = reflexia_cli("history", "list")
    assert_success(run)
    assert run.stdout == "No conversations yet.\n"
    run = reflexia_cli("history", "list", "--json")
    assert_success(run)
    assert json.loads(run.stdout) == {"conversations": []}


def test_show_prints_the_conversation_named_by_a_prefix(history: dict[str, str]) -> None:
    run = reflexia_cli("history", "show", history["eggs"][:6])
    assert_success(run)
    lines = run.stdout.splitlines()
    assert lines[0] == "How long should I boil an egg for a jammy yolk?"
    assert f"ID {history['eggs']}" in lines[1] and "3 messages" in lines[1] and "role Chef" in lines[1]
    assert "\nYou\nHow long should I boil an egg for a jammy yolk?\n" in run.stdout
    assert "\nAssistant · tiny-q4_k_m.gguf · 9 tokens · 40.0 tokens/s · first token 0.10 s\n" in run.stdout
    assert run.stdout.endswith("Seven minutes, then straight into iced water.\n")

    stopped = reflexia_cli("history", "show", history["bread"][:4])
    assert_success(stopped)
    assert (
        "\nAssistant · ollama:llama3.2 · stopped\nNo, it is hungry: feed it twice a day.\n" in stopped.stdout
    )


def test_show_json_is_the_json_export(history: dict[str, str], store: HistoryStore) -> None:
    run = reflexia_cli("history", "show", history["bread"], "--json")
    assert_success(run)
    assert json.loads(run.stdout) == store.export_json(history["bread"])


def test_search_finds_the_message_the_user_remembers(history: dict[str, str]) -> None:
    run = reflexia_cli("history", "search", "nail", "varnish")
    assert_success(run)
    first, snippet = run.stdout.splitlines()
    assert first.startswith(history["bread"][:8]) and "My sourdough starter" in first
    assert "**nail** **varnish**" in snippet

    as_json = reflexia_cli("history", "search", "iced water", "--json")
    assert_success(as_json)
    found = json.loads(as_json.stdout)
    assert found["query"] == "iced water"
    [hit] = found["hits"]
    assert hit["conversation_id"] == history["eggs"]
    assert "**iced** **water**" in hit["snippet"]
    assert set(hit) == {"conversation_id", "title", "message_id", "snippet", "rank"}


def test_search_without_matches_says_so(history: dict[str, str]) -> None:
    run = reflexia_cli("history", "search", "pancakes")
    assert_success(run)
    assert run.stdout == "No messages or titles match 'pancakes'.\n"
    run = reflexia_cli("history", "search", "?!", "--json")
    assert_success(run)
    assert json.loads(run.stdout)["hits"] == []


def test_export_markdown_to_stdout_reads_as_the_conversation(history: dict[str, str]) -> None:
    run = reflexia_cli("history", "export", history["eggs"][:8], "--format", "md")
    assert_success(run)
    text = run.stdout
    assert text.startswith("# How long should I boil an egg for a jammy yolk?\n")
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == ["## System prompt", "## You", "## Assistant · tiny-q4_k_m.gguf"]
    assert text.index("jammy yolk?\n\n## Assistant") < text.index("Seven minutes")


def test_export_to_a_file_writes_it_whole(history: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "exports" / "bread.json"
    run = reflexia_cli("history", "export", history["bread"], "--format", "json", "--out", out)
    assert_success(run)
    assert run.stdout == f"{out}\n"
    exported = json.loads(out.read_text(encoding="utf-8"))
    assert [(m["role"], m["status"]) for m in exported["messages"]] == [
        ("user", "complete"), ("assistant", "stopped"),
    ]  # fmt: skip
    assert [p.name for p in out.parent.iterdir()] == ["bread.json"]  # no temporary file left

    md = tmp_path / "bread.md"
    assert_success(reflexia_cli("history", "export", history["bread"], "--format", "md", "--out", md))
    assert "No, it is hungry: feed it twice a day." in md.read_text(encoding="utf-8")


def test_delete_hides_a_conversation_the_app_can_bring_back(
    history: dict[str, str], store: HistoryStore
) -> None:
    run = reflexia_cli("history", "delete", history["eggs"][:8])
    assert_success(run)
    assert run.stdout == f"deleted {history['eggs'][:8]}  How long should I boil an egg for a jammy yolk?\n"
    listed = json.loads(reflexia_cli("history", "list", "--json").stdout)["conversations"]
    assert [c["id"] for c in listed] == [history["bread"]]
    assert_one_line_error(reflexia_cli("history", "show", history["eggs"]), "no conversation")

    store.undo_delete(history["eggs"])  # the window's undo
    assert_success(reflexia_cli("history", "show", history["eggs"][:8]))


def test_errors_are_one_line(history: dict[str, str], tmp_path: Path) -> None:
    assert_one_line_error(reflexia_cli("history", "show", "ffff"), "no conversation ffff")
    assert_one_line_error(reflexia_cli("history", "show", "ab"), "at least 4")
    assert_one_line_error(reflexia_cli("history", "delete", "not-an-id"), "not a conversation ID")
    assert_one_line_error(reflexia_cli("history"), "history")
    assert_one_line_error(reflexia_cli("history", "export", history["eggs"]), "--format")
    assert_one_line_error(reflexia_cli("history", "export", history["eggs"], "--format", "pdf"), "pdf")
    assert_one_line_error(
        reflexia_cli("history", "export", history["eggs"], "--format", "md", "--out", tmp_path),
        str(tmp_path),
        "folder",
    )


def test_an_unreadable_store_is_one_line_and_left_alone() -> None:
    path = history_file()
    path.parent.mkdir(parents=True)
    damaged = b"not a database, the remains of a failed disk\n" * 50
    path.write_bytes(damaged)

    for args in (("list",), ("search", "egg"), ("show", "abcd")):
        assert_one_line_error(reflexia_cli("history", *args), str(path), "left as it is")

    assert path.read_bytes() == damaged
    assert [p.name for p in path.parent.iterdir()] == [path.name]
