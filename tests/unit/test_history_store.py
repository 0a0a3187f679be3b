"""The conversation history store: what a user keeps, finds, deletes, brings back and exports."""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from reflexia.core.errors import HistoryStoreError
from reflexia.core.history.records import title_from_message
from reflexia.core.history.schema import APPLICATION_ID, SCHEMA_VERSION
from reflexia.core.history.search import match_expression
from reflexia.core.history.store import HistoryStore


class Clock:
    """Seconds since the epoch that move one second per reading, so orders are certain."""

    def __init__(self, start: float = 1_750_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "history.sqlite3"


@pytest.fixture
def store(path: Path) -> Iterator[HistoryStore]:
    with HistoryStore(path, clock=Clock()) as opened:
        yield opened


def chat(store: HistoryStore, *turns: str, title: str = "", model: str = "/models/tiny-q4_k_m.gguf") -> str:
    """A conversation of alternating user and assistant turns; returns its id."""
    conversation = store.create_conversation(title)
    for index, text in enumerate(turns):
        if index % 2 == 0:
            store.add_message(conversation, "user", text)
        else:
            store.add_message(conversation, "assistant", text, model_ref=model, rung="q4_k_m")
    return conversation


def files_in(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# --- keeping conversations -----------------------------------------------------------------------


def test_a_conversation_reads_back_as_it_was_written(store: HistoryStore) -> None:
    conversation = store.create_conversation(expert_role="Coder")
    store.add_message(conversation, "system", "You write Python.")
    question = store.add_message(conversation, "user", "How do I reverse a list?", expert_role="Coder")
    reply = store.add_message(
        conversation,
        "assistant",
        "Use `items[::-1]` or `items.reverse()`.",
        expert_role="Coder",
        model_ref="ollama:llama3.2:3b",
        stats={"completion_tokens": 11, "tokens_per_s": 42.5, "ttft_s": 0.08},
        sources=[{"title": "Python docs", "path": "/docs/lists.md"}],
    )

    stored = store.get_conversation(conversation)

    assert stored.title == "How do I reverse a list?"
    assert stored.expert_role == "Coder"
    assert [(m.role, m.content) for m in stored.messages] == [
        ("system", "You write Python."),
        ("user", "How do I reverse a list?"),
        ("assistant", "Use `items[::-1]` or `items.reverse()`."),
    ]
    assert [m.id for m in stored.messages][1:] == [question, reply]
    answer = stored.messages[2]
    assert answer.model_ref == "ollama:llama3.2:3b" == stored.model_ref
    assert answer.stats == {"completion_tokens": 11, "tokens_per_s": 42.5, "ttft_s": 0.08}
    assert answer.sources == ({"title": "Python docs", "path": "/docs/lists.md"},)
    assert answer.status == "complete"
    assert stored.messages[0].created_at <= answer.created_at <= stored.updated_at


def test_the_first_user_message_titles_an_untitled_conversation(store: HistoryStore) -> None:
    question = (
        "Could you explain how the memory governor decides when to switch to a lighter "
        "quantization while I am chatting?"
    )
    conversation = store.create_conversation()
    store.add_message(conversation, "system", "Be brief.")
    assert store.get_conversation(conversation).title == ""  # a system prompt is not a title
    store.add_message(conversation, "user", question)
    store.add_message(conversation, "user", "And back up again?")

    title = store.get_conversation(conversation).title
    assert title == "Could you explain how the memory governor decides when to…"
    assert len(title) <= 60
    assert question.startswith(title.removesuffix("…"))

    named = chat(store, "Hello there", title="My own title")
    assert store.get_conversation(named).title == "My own title"


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("  Short   question\n over two lines ", "Short question over two lines"),
        ("word " * 30, "word word word word word word word word word word word word…"),
        ("alpha beta " * 10, "alpha beta alpha beta alpha beta alpha beta alpha beta…"),
        ("x" * 100, "x" * 59 + "…"),
        ("", ""),
    ],
)
def test_titles_are_one_short_line_cut_on_a_word(text: str, title: str) -> None:
    assert title_from_message(text) == title
    assert len(title_from_message(text)) <= 60


def test_rename_and_an_empty_title_goes_back_to_the_first_message(store: HistoryStore) -> None:
    conversation = chat(store, "What is a KV cache?", "It stores keys and values.")
    store.rename(conversation, "  KV cache\nnotes ")
    assert store.get_conversation(conversation).title == "KV cache notes"
    store.rename(conversation, "")
    assert store.get_conversation(conversation).title == "What is a KV cache?"


def test_the_list_shows_the_most_recently_active_first(store: HistoryStore) -> None:
    first = chat(store, "First question", "First answer")
    second = chat(store, "Second question")
    third = chat(store, "Third question", "Third answer", "A follow-up")

    assert [c.id for c in store.list_conversations()] == [third, second, first]
    store.add_message(first, "user", "Back to the first one")
    summaries = store.list_conversations()
    assert [c.id for c in summaries] == [first, third, second]
    assert [(c.title, c.message_count) for c in summaries] == [
        ("First question", 3),
        ("Third question", 3),
        ("Second question", 1),
    ]
    assert [c.id for c in store.list_conversations(limit=2)] == [first, third]
    store.rename(second, "Renamed")  # renaming is not activity: the order stays
    assert [c.id for c in store.list_conversations()] == [first, third, second]


def test_a_reply_is_saved_while_it_streams_and_when_it_ends(store: HistoryStore, path: Path) -> None:
    conversation = chat(store, "Tell me a story")
    reply = store.add_message(conversation, "assistant", "", status="pending", model_ref="/m/tiny.gguf")
    before = store.get_conversation(conversation).updated_at
    store.update_message(reply, content="Once upon")
    with HistoryStore(path) as other_reader:  # saved as it goes: another store sees it at once
        assert other_reader.get_conversation(conversation).messages[-1].content == "Once upon"
        assert other_reader.get_conversation(conversation).messages[-1].status == "pending"

    store.update_message(reply, content="Once upon a time.", status="stopped", stats={"completion_tokens": 4})

    stored = store.get_conversation(conversation)
    assert stored.messages[-1].content == "Once upon a time."
    assert stored.messages[-1].status == "stopped"
    assert stored.messages[-1].stats == {"completion_tokens": 4}
    assert stored.updated_at > before
    store.update_message(reply, status="complete")  # what is not given is kept
    assert store.get_conversation(conversation).messages[-1].content == "Once upon a time."
    with pytest.raises(HistoryStoreError, match="no message 999"):
        store.update_message(999, content="lost")
    with pytest.raises(ValueError, match="unknown message status"):
        store.update_message(reply, status="finished")  # type: ignore[arg-type]


def test_regenerate_and_edit_and_resend_drop_what_came_after(store: HistoryStore) -> None:
    conversation = chat(store, "Name a colour", "Blue.", "Another one", "Vermilion.")
    user_ids = [m.id for m in store.get_conversation(conversation).messages if m.role == "user"]

    # Regenerate the last reply: drop it, keep the question.
    assert store.truncate_after(conversation, user_ids[1]) == 1
    new_reply = store.add_message(conversation, "assistant", "Green.")
    assert [m.content for m in store.get_conversation(conversation).messages] == [
        "Name a colour", "Blue.", "Another one", "Green.",
    ]  # fmt: skip
    assert new_reply > user_ids[1] + 1  # the dropped reply's id is not given to another message
    assert store.search("vermilion") == []

    # Edit the first question and resend it: everything after it goes.
    assert store.truncate_after(conversation, user_ids[0]) == 3
    store.update_message(user_ids[0], content="Name a fruit")
    store.add_message(conversation, "assistant", "Mango.")
    stored = store.get_conversation(conversation)
    assert [(m.position, m.content) for m in stored.messages] == [(0, "Name a fruit"), (1, "Mango.")]
    assert store.truncate_after(conversation, stored.messages[-1].id) == 0

    other = chat(store, "Elsewhere")
    with pytest.raises(HistoryStoreError, match="no message"):
        store.truncate_after(other, user_ids[0])


# --- deleting and bringing back ------------------------------------------------------------------


def test_delete_can_be_undone_until_purged(store: HistoryStore) -> None:
    kept = chat(store, "Keep this about sourdough", "Sure.")
    dropped = chat(store, "Recipe for lemon tart", "Butter, sugar, lemons.")

    store.delete(dropped)
    assert [c.id for c in store.list_conversations()] == [kept]
    assert store.search("lemon") == []
    with pytest.raises(HistoryStoreError, match=f"no conversation {dropped}"):
        store.get_conversation(dropped)

    store.undo_delete(dropped)
    assert [c.id for c in store.list_conversations()] == [dropped, kept]  # back in its old place
    assert [m.content for m in store.get_conversation(dropped).messages][-1] == "Butter, sugar, lemons."
    assert store.search("lemon")

    store.delete(dropped)
    assert store.purge_deleted() == 1
    assert store.purge_deleted() == 0
    with pytest.raises(HistoryStoreError, match="no conversation"):
        store.undo_delete(dropped)
    assert [c.id for c in store.list_conversations()] == [kept]
    assert store.search("lemon") == []
    assert store.search("sourdough")[0].conversation_id == kept


def test_an_unknown_conversation_is_one_clear_error(store: HistoryStore) -> None:
    missing = uuid.uuid4().hex
    for attempt in (
        lambda: store.get_conversation(missing),
        lambda: store.add_message(missing, "user", "hello"),
        lambda: store.rename(missing, "x"),
        lambda: store.delete(missing),
        lambda: store.export_markdown(missing),
    ):
        with pytest.raises(HistoryStoreError, match=f"^no conversation {missing}$"):
            attempt()


def test_a_unique_prefix_names_a_conversation(store: HistoryStore, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = iter([uuid.UUID("abcd1234" + "0" * 24), uuid.UUID("abcd5678" + "0" * 24)])
    monkeypatch.setattr(uuid, "uuid4", lambda: next(ids))
    first, second = chat(store, "one"), chat(store, "two")

    assert store.resolve_id("ABCD12") == first
    assert store.resolve_id(second) == second
    with pytest.raises(HistoryStoreError, match="more than one conversation ID starts with abcd"):
        store.resolve_id("abcd")
    with pytest.raises(HistoryStoreError, match="at least 4"):
        store.resolve_id("abc")
    with pytest.raises(HistoryStoreError, match="not a conversation ID"):
        store.resolve_id("abcd%")
    with pytest.raises(HistoryStoreError, match="no conversation ffff"):
        store.resolve_id("ffff")


# --- search --------------------------------------------------------------------------------------


@pytest.fixture
def searchable(store: HistoryStore) -> dict[str, str]:
    """A small history with a few topics (and unrelated chatter, so ranking has something to rank)."""
    return {
        "quant": chat(
            store,
            "Which quantization should I pick?",
            "For most models q4_k_m quantization is the sweet spot; quantization below q4 loses quality.",
        ),
        "passing": chat(
            store,
            "Tell me about the memory governor",
            "It watches free memory once a second and, when pressure stays high for a while, it loads "
            "a lighter rung of the same model, which is another quantization, between replies.",
        ),
        "cafe": chat(store, "Où est le café le plus proche ?", "Je ne sais pas."),
        "titled": chat(store, "hi", "hello", title="Sourdough starter notes"),
        "chatter": chat(store, "What is the weather like?", "I cannot see outside.", "Fine, thanks."),
    }


def test_search_finds_the_message_the_user_remembers(store: HistoryStore, searchable: dict[str, str]) -> None:
    hits = store.search("sweet spot")
    assert len(hits) == 1
    hit = hits[0]
    assert hit.conversation_id == searchable["quant"]
    assert hit.title == "Which quantization should I pick?"
    message = next(m for m in store.get_conversation(hit.conversation_id).messages if m.id == hit.message_id)
    assert "sweet spot" in message.content
    assert "**sweet** **spot**" in hit.snippet


def test_search_ranks_the_focused_message_above_a_passing_mention(
    store: HistoryStore, searchable: dict[str, str]
) -> None:
    hits = store.search("quantization")
    assert [h.conversation_id for h in hits[:2]] == [searchable["quant"]] * 2
    assert hits[-1].conversation_id == searchable["passing"]
    assert [h.rank for h in hits] == sorted(h.rank for h in hits)


def test_search_matches_titles_prefixes_and_ignores_case_and_accents(
    store: HistoryStore, searchable: dict[str, str]
) -> None:
    title_hits = store.search("SOURDOUGH")
    assert [(h.conversation_id, h.message_id) for h in title_hits] == [(searchable["titled"], None)]
    assert title_hits[0].snippet == "**Sourdough** starter notes"
    assert [h.conversation_id for h in store.search("cafe")] == [searchable["cafe"]]
    assert [h.conversation_id for h in store.search("quantiz rung")] == [searchable["passing"]]
    assert store.search("quantization weather") == []  # every word must match
    assert [h.snippet for h in store.search("weather", mark=("<b>", "</b>"))] == [
        "What is the <b>weather</b> like?"
    ]


def test_search_never_reads_the_query_as_syntax(store: HistoryStore, searchable: dict[str, str]) -> None:
    for query in ("", "   ", "?!", '"', "***", "( )", "- + ^ :"):
        assert store.search(query) == [], query
    for query in ('quantization"', "quantization AND", "NEAR(quantization", "quantization*", "col:quant"):
        store.search(query)  # no error, whatever it finds
    assert store.search('"sweet spot"')[0].conversation_id == searchable["quant"]
    assert match_expression('say "hi" AND bye') == '"say"* """hi"""* "AND"* "bye"*'


def test_system_prompts_are_not_searched(store: HistoryStore) -> None:
    conversation = store.create_conversation()
    store.add_message(conversation, "system", "You are a pirate assistant.")
    store.add_message(conversation, "user", "Ahoy")
    assert store.search("pirate") == []
    assert [h.conversation_id for h in store.search("ahoy")] == [conversation]


# --- export --------------------------------------------------------------------------------------


def test_the_markdown_export_reads_as_a_conversation(store: HistoryStore) -> None:
    conversation = store.create_conversation(expert_role="Chef")
    store.add_message(conversation, "system", "You are a chef.")
    store.add_message(conversation, "user", "How long do I boil an egg?")
    reply = store.add_message(
        conversation, "assistant", "Seven minutes for", model_ref="/home/me/models/tiny-q4_k_m.gguf",
        rung="q4_k_m", status="pending",
    )  # fmt: skip
    store.update_message(
        reply, content="Seven minutes for a jammy yolk.", status="stopped",
        stats={"completion_tokens": 8, "tokens_per_s": 31.25, "ttft_s": 0.125},
    )  # fmt: skip
    store.add_message(conversation, "user", "Thanks!")

    text = store.export_markdown(conversation)

    assert text.startswith("# How long do I boil an egg?\n")
    assert "expert role: Chef" in text
    sections = text.split("\n## ")[1:]
    assert [s.splitlines()[0] for s in sections] == [
        "System prompt", "You", "Assistant · tiny-q4_k_m.gguf", "You",
    ]  # fmt: skip
    assert "\nSeven minutes for a jammy yolk.\n" in sections[2]
    assert "stopped by the user — 8 tokens · 31.2 tokens/s · first token 0.12 s" in sections[2]
    assert sections[3] == "You\n\nThanks!\n"
    assert "/home/me" not in text


def test_the_json_export_carries_everything_a_program_needs(store: HistoryStore) -> None:
    conversation = store.create_conversation(title="Eggs", expert_role="Chef")
    store.add_message(conversation, "user", "Boil time?")
    store.add_message(
        conversation, "assistant", "Seven minutes.", model_ref="ollama:llama3.2", status="cut",
        stats={"completion_tokens": 3}, sources=[{"title": "Cookbook", "page": 12}],
    )  # fmt: skip

    exported = json.loads(json.dumps(store.export_json(conversation)))

    assert exported["title"] == "Eggs"
    assert exported["role"] == "Chef"
    assert exported["model"] == "ollama:llama3.2"
    assert exported["created"].endswith("+00:00")
    assert [
        {k: m[k] for k in ("role", "content", "status", "stats", "sources")} for m in exported["messages"]
    ] == [
        {"role": "user", "content": "Boil time?", "status": "complete", "stats": None, "sources": None},
        {
            "role": "assistant",
            "content": "Seven minutes.",
            "status": "cut",
            "stats": {"completion_tokens": 3},
            "sources": [{"title": "Cookbook", "page": 12}],
        },
    ]


# --- the file: migrations and refusals -----------------------------------------------------------

# The store as Reflexia's schema version 1 wrote it, frozen here on purpose: users have such files.
VERSION_1_SCHEMA = f"""
CREATE TABLE conversations (
    seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, title TEXT NOT NULL DEFAULT '',
    expert_role TEXT NOT NULL DEFAULT '', created_at REAL NOT NULL, updated_at REAL NOT NULL,
    deleted_at REAL
);
CREATE INDEX conversations_by_update ON conversations (updated_at);
CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
    content TEXT NOT NULL, expert_role TEXT NOT NULL DEFAULT '', model_ref TEXT NOT NULL DEFAULT '',
    rung TEXT NOT NULL DEFAULT '', stats_json TEXT,
    status TEXT NOT NULL CHECK (status IN ('complete', 'stopped', 'cut', 'pending', 'failed')),
    sources_json TEXT, created_at REAL NOT NULL, UNIQUE (conversation_id, position)
);
PRAGMA application_id = {APPLICATION_ID};
PRAGMA user_version = 1;
INSERT INTO conversations VALUES (1, 'aaaa0000000000000000000000000001', 'Old chat about tomatoes', '',
                                  1700000000, 1700000100, NULL);
INSERT INTO messages VALUES (1, 'aaaa0000000000000000000000000001', 0, 'user', 'When do I plant tomatoes?',
                             '', '', '', NULL, 'complete', NULL, 1700000000);
INSERT INTO messages VALUES (2, 'aaaa0000000000000000000000000001', 1, 'assistant',
                             'After the last frost.', '', '/m/tiny.gguf', 'q4_k_m',
                             '{{"completion_tokens": 5}}', 'complete', NULL, 1700000100);
"""


def test_an_older_store_is_migrated_and_keeps_every_conversation(path: Path) -> None:
    path.parent.mkdir(parents=True)
    with sqlite3.connect(path) as old:
        old.executescript(VERSION_1_SCHEMA)
    old.close()

    with HistoryStore(path) as store:
        [summary] = store.list_conversations()
        assert (summary.title, summary.message_count) == ("Old chat about tomatoes", 2)
        stored = store.get_conversation(summary.id)
        assert [m.content for m in stored.messages] == ["When do I plant tomatoes?", "After the last frost."]
        assert stored.messages[1].stats == {"completion_tokens": 5}
        # The search index is new in version 2: the old messages and title are in it.
        assert [h.message_id for h in store.search("frost")] == [2]
        assert [h.message_id for h in store.search("old chat")] == [None]
        store.add_message(summary.id, "user", "And peppers?")
        assert store.search("peppers")[0].conversation_id == summary.id

    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    check.close()


def test_a_version_2_store_gains_each_conversations_documents_switch(path: Path) -> None:
    from reflexia.core.history import schema

    path.parent.mkdir(parents=True)
    with sqlite3.connect(path) as old:  # version 2 as it shipped: version 1 and its search index
        old.executescript(VERSION_1_SCHEMA)
        schema.MIGRATIONS[1](old)
        old.execute("PRAGMA user_version = 2")
    old.close()

    with HistoryStore(path) as store:
        [summary] = store.list_conversations()
        assert store.get_conversation(summary.id).use_documents is None  # not recorded: the role decides
        assert store.set_options(summary.id, expert_role="Research Assistant", use_documents=True)
        assert not store.set_options(uuid.uuid4().hex, expert_role="Assistant", use_documents=True)
        new = store.create_conversation(expert_role="Data Analyst", use_documents=False)
    with HistoryStore(path) as store:
        stored = store.get_conversation(summary.id)
        assert (stored.expert_role, stored.use_documents) == ("Research Assistant", True)
        assert store.list_conversations()[-1].id == summary.id  # recording the switch is not activity
        assert store.get_conversation(new).use_documents is False


def test_a_store_from_a_newer_reflexia_is_refused_and_left_alone(path: Path) -> None:
    path.parent.mkdir(parents=True)
    with sqlite3.connect(path) as newer:
        newer.executescript(
            f"CREATE TABLE future (x); PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = 99;"
        )
    newer.close()
    before = files_in(path.parent)

    with pytest.raises(HistoryStoreError) as refused:
        HistoryStore(path)

    message = str(refused.value)
    assert str(path) in message and "version 99" in message and "newer" in message
    assert "\n" not in message
    assert files_in(path.parent) == before


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"this is not a database at all, just some words\n" * 100, id="text"),
        pytest.param(b"SQLite format 3\x00" + bytes(range(256)) * 8, id="damaged header"),
    ],
)
def test_a_corrupt_file_is_refused_and_left_alone(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(content)

    with pytest.raises(HistoryStoreError) as refused:
        HistoryStore(path)

    message = str(refused.value)
    assert message.startswith(f"{path}: cannot open the conversation history: ")
    assert "left as it is" in message and "\n" not in message
    assert files_in(path.parent) == {path.name: content}


def test_another_programs_database_is_refused_and_left_alone(path: Path) -> None:
    path.parent.mkdir(parents=True)
    with sqlite3.connect(path) as foreign:
        foreign.execute("CREATE TABLE contacts (name TEXT)")
    foreign.close()
    before = files_in(path.parent)
    with pytest.raises(HistoryStoreError, match="another program's database"):
        HistoryStore(path)
    assert files_in(path.parent) == before


def test_a_folder_in_the_way_is_one_line_naming_it(path: Path) -> None:
    path.mkdir(parents=True)
    with pytest.raises(HistoryStoreError, match=f"^{path}: cannot open the conversation history"):
        HistoryStore(path)


def test_the_file_is_in_wal_mode_with_its_settings(store: HistoryStore, path: Path) -> None:
    chat(store, "hello")
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    check.close()
    assert store._db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL


def test_each_thread_opens_its_own_store(store: HistoryStore, path: Path) -> None:
    conversation = chat(store, "from the main thread")
    seen: list[str] = []

    def worker() -> None:
        with HistoryStore(path) as own:
            own.add_message(conversation, "assistant", "from a worker")
            seen.extend(m.content for m in own.get_conversation(conversation).messages)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == ["from the main thread", "from a worker"]
    assert store.get_conversation(conversation).messages[-1].content == "from a worker"
