"""A conversation survives the app being killed while a reply is being saved.

A real child process writes a conversation the way the app does (the user's
message first, then a pending reply updated as it grows) and is killed with
SIGKILL at different moments. The store must reopen cleanly every time, holding
the user's message and either no reply, a pending reply with a clean prefix of
the text, or the complete reply: never damaged pages, never garbage text.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reflexia.core.history.store import HistoryStore

USER_MESSAGE = "Write me a very long answer, please."
STREAM_SECONDS = 3.0  # far longer than the longest kill delay: a killed reply is still streaming

# The app's way of saving: the user's message before generation, then a pending reply saved
# on every token. It prints a line when the user's message is saved and one when the reply is.
CHILD = f"""
import sys, time
from pathlib import Path
from reflexia.core.history.store import HistoryStore

store = HistoryStore(Path(sys.argv[1]))
conversation = store.create_conversation()
store.add_message(conversation, "user", {USER_MESSAGE!r})
print("user saved", flush=True)
reply = store.add_message(conversation, "assistant", "", status="pending", model_ref="/m/tiny.gguf")
print("reply started", flush=True)
text, words, ends = "", 0, time.monotonic() + {STREAM_SECONDS}
while time.monotonic() < ends:
    text += f"w{{words}} "
    words += 1
    store.update_message(reply, content=text)
store.update_message(reply, content=text, status="complete", stats={{"completion_tokens": words}})
print("done", flush=True)
"""

STREAMED_TEXT = re.compile(r"(?:w\d+ )*")


def is_clean_prefix(text: str) -> bool:
    """True when ``text`` is exactly the first N words the child wrote (N may be 0)."""
    if STREAMED_TEXT.fullmatch(text) is None:
        return False
    return text.split() == [f"w{i}" for i in range(len(text.split()))]


def run_and_kill(path: Path, wait_for: str, delay_s: float | None) -> None:
    """Start the writer, wait for its ``wait_for`` line, then SIGKILL it ``delay_s`` later.

    With ``delay_s`` None the writer runs to its end instead.
    """
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        for line in child.stdout:
            if line.strip() == wait_for:
                break
        else:
            pytest.fail(
                f"the writer ended early: {child.wait()} {child.stderr.read() if child.stderr else ''}"
            )
        if delay_s is None:
            assert child.wait(timeout=STREAM_SECONDS * 10) == 0
            return
        time.sleep(delay_s)
        child.kill()  # SIGKILL: no atexit, no close, no flush
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        for stream in (child.stdout, child.stderr):
            if stream is not None:
                stream.close()


def reopened_reply(path: Path) -> tuple[str, str] | None:
    """Check the reopened store and return the reply as (status, content), or None if there is none."""
    check = sqlite3.connect(path)
    try:
        assert check.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        check.execute("INSERT INTO search_index (search_index) VALUES ('integrity-check')")  # FTS5 self-check
    finally:
        check.close()

    with HistoryStore(path) as store:
        [summary] = store.list_conversations()
        conversation = store.get_conversation(summary.id)
        assert conversation.title == USER_MESSAGE
        assert [(m.role, m.content) for m in conversation.messages[:1]] == [("user", USER_MESSAGE)]
        replies = conversation.messages[1:]
        assert len(replies) <= 1, replies
        store.add_message(summary.id, "user", "Still there?")  # the store goes on working
        assert store.search("still")[0].conversation_id == summary.id
        if not replies:
            return None
        reply = replies[0]
        assert reply.role == "assistant"
        assert reply.status in ("pending", "complete"), reply.status
        assert is_clean_prefix(reply.content), reply.content[-200:]
        if reply.content:
            assert store.search(reply.content.split()[0])[0].message_id == reply.id  # indexed as saved
        return reply.status, reply.content


@pytest.mark.parametrize("delay_s", [0.0, 0.01, 0.05, 0.2, 0.6])
def test_killed_while_a_reply_streams_the_reply_is_pending_and_clean(tmp_path: Path, delay_s: float) -> None:
    path = tmp_path / "history.sqlite3"
    run_and_kill(path, "reply started", delay_s)
    reply = reopened_reply(path)
    assert reply is not None and reply[0] == "pending"


def test_killed_right_after_the_users_message_it_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    run_and_kill(path, "user saved", 0.0)
    reply = reopened_reply(path)
    assert reply is None or reply[0] == "pending"


def test_a_reply_that_ends_is_complete(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    run_and_kill(path, "reply started", None)
    reply = reopened_reply(path)
    assert reply is not None and reply[0] == "complete" and reply[1].startswith("w0 w1 w2 ")
