"""`reflexia chat --save` keeps conversations in the history the window shows, and survives kill -9."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from reflexia.core.history.store import HistoryStore, default_history_path
from tests.e2e.test_cli import _env, assert_success, reflexia_cli


def test_a_saved_conversation_is_in_the_history(tiny_model: Path) -> None:
    run = reflexia_cli("chat", "--model", tiny_model, "--save", "--json", "--max-tokens", "8",
                       stdin="Tell me about lighthouses\nAnd about tides\n")  # fmt: skip
    assert run.returncode == 0, run.describe()
    first, second = (json.loads(line) for line in run.stdout.splitlines())
    assert first["conversation_id"] == second["conversation_id"]
    shown = reflexia_cli("history", "show", first["conversation_id"][:8], "--json")
    assert_success(shown)
    messages = json.loads(shown.stdout)["messages"]
    assert [(m["role"], m["content"]) for m in messages[::2]] == [
        ("user", "Tell me about lighthouses"),
        ("user", "And about tides"),
    ]
    assert [m["content"] for m in messages[1::2]] == [first["text"], second["text"]]
    found = reflexia_cli("history", "search", "lighthouses", "--json")
    assert json.loads(found.stdout)["hits"][0]["conversation_id"] == first["conversation_id"]
    one_shot = reflexia_cli(
        "chat", "--model", tiny_model, "--prompt", "Hi", "--save", "--json", "--max-tokens", "4"
    )
    assert "conversation_id" in json.loads(one_shot.stdout)


def test_kill_9_during_a_reply_loses_at_most_that_reply(small_model: Path) -> None:
    for delay in (0.3, 1.0, 2.0):
        child = subprocess.Popen(
            [sys.executable, "-m", "reflexia", "chat", "--model", os.fspath(small_model), "--save",
             "--max-tokens", "100000", "--temperature", "0.9", "--seed", "4"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(),
        )  # fmt: skip
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write(b"Write a very long story about the sea\n")
        child.stdin.flush()
        child.stdout.read(1)  # the reply is streaming
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait()
        for pipe in (child.stdin, child.stdout, child.stderr):
            pipe.close()
        path = default_history_path()
        with sqlite3.connect(path) as raw:
            assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        with HistoryStore(path) as store:
            latest = store.get_conversation(store.list_conversations()[0].id)
            user, reply = latest.messages[-2:]
            assert (user.role, user.content) == ("user", "Write a very long story about the sea")
            assert reply.role == "assistant" and reply.status == "pending"  # only the reply in progress lost
