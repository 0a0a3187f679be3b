"""`reflexia chat` typed at a terminal: a banner and a prompt, on a real pseudo-terminal.

Piped input keeps its output as scripts rely on it (tests/e2e/test_cli_conversation.py); at a
terminal the user must see what to do before typing, and where each turn begins.
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from tests.e2e.test_cli import _env, reflexia_cli

GREEDY = ("--temperature", "0", "--max-tokens", "8")
PROMPT = "> "


class Terminal:
    """``reflexia chat`` with standard input (and, unless piped, output) on a pseudo-terminal."""

    def __init__(self, model: Path, *, stdout_piped: bool = False) -> None:
        self._master, slave = pty.openpty()
        command = [sys.executable, "-m", "reflexia", "chat", "--model", os.fspath(model), *GREEDY]
        self.process = subprocess.Popen(
            command,
            stdin=slave,
            stdout=subprocess.PIPE if stdout_piped else slave,
            stderr=slave,
            env=_env(),
        )
        os.close(slave)
        self.screen = b""

    def read_until(self, text: str, count: int = 1, timeout: float = 30.0) -> str:
        """What the terminal showed once ``text`` is on it ``count`` times."""
        deadline = time.monotonic() + timeout
        while self.screen.decode(errors="replace").count(text) < count:
            left = deadline - time.monotonic()
            assert left > 0, (
                f"{text!r} never came; the terminal showed:\n{self.screen.decode(errors='replace')}"
            )
            ready, _, _ = select.select([self._master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self._master, 4096)
                except OSError:  # the child closed the terminal (Linux: EIO)
                    chunk = b""
                assert chunk, f"the terminal closed; it showed:\n{self.screen.decode(errors='replace')}"
                self.screen += chunk
        return self.screen.decode(errors="replace")

    def type(self, keys: bytes) -> None:
        os.write(self._master, keys)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        os.close(self._master)


def test_a_terminal_shows_a_banner_and_a_prompt_before_each_turn(tiny_model: Path) -> None:
    terminal = Terminal(tiny_model)
    try:
        shown = terminal.read_until(PROMPT)  # before anything is typed
        banner, _, _ = shown.partition(PROMPT)
        assert banner.count("\n") == 1  # one line
        for words in ("tiny", "/load", "/new", "Ctrl-D"):
            assert words in banner, banner
        terminal.type(b"Hello\n")
        after_reply = terminal.read_until(PROMPT, count=2)
        assert after_reply.rstrip().endswith(PROMPT.rstrip())  # ready for the next turn
        terminal.type(b"\x04")  # Ctrl-D: the end of input
        assert terminal.process.wait(timeout=30) == 0
    finally:
        terminal.close()


def test_at_a_terminal_standard_output_holds_only_the_replies(tiny_model: Path) -> None:
    piped = reflexia_cli("chat", "--model", tiny_model, *GREEDY, stdin="Hello\n")
    assert piped.returncode == 0, piped.describe()
    assert piped.stderr == ""  # no banner, no prompt: scripts read what they always read
    terminal = Terminal(tiny_model, stdout_piped=True)
    try:
        terminal.read_until(PROMPT)
        terminal.type(b"Hello\n")
        terminal.read_until(PROMPT, count=2)
        terminal.type(b"\x04")
        assert terminal.process.wait(timeout=30) == 0
        assert terminal.process.stdout is not None
        assert terminal.process.stdout.read().decode() == piped.stdout  # the banner and prompts are on stderr
    finally:
        terminal.close()
