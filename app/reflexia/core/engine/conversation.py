"""Messages and conversations, as plain values."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class ChatMessage:
    """One turn of a conversation."""

    role: Role
    content: str


@dataclass
class Conversation:
    """A chat: an optional system prompt and the turns after it.

    Lives on the GUI thread (or the CLI); what crosses to a worker is the
    immutable tuple from :meth:`messages`.
    """

    system_prompt: str = ""
    turns: list[ChatMessage] = field(default_factory=list)

    def add_user(self, text: str) -> None:
        """Append the user's next message."""
        self.turns.append(ChatMessage("user", text))

    def add_assistant(self, text: str) -> None:
        """Append the model's reply."""
        self.turns.append(ChatMessage("assistant", text))

    def drop_last_user(self) -> str:
        """Remove a trailing user turn (a reply failed or was withdrawn) and return its text."""
        if self.turns and self.turns[-1].role == "user":
            return self.turns.pop().content
        return ""

    def messages(self) -> tuple[ChatMessage, ...]:
        """Everything the model sees, oldest first."""
        head = (ChatMessage("system", self.system_prompt),) if self.system_prompt else ()
        return head + tuple(self.turns)

    def clear(self) -> None:
        """Start over, keeping the system prompt."""
        self.turns.clear()
