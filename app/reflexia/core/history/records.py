"""What the history store gives back: frozen values, safe to hand to another thread."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

MessageRole = Literal["system", "user", "assistant"]
MessageStatus = Literal["complete", "stopped", "cut", "pending", "failed"]

MESSAGE_ROLES: tuple[MessageRole, ...] = ("system", "user", "assistant")
#: complete: ended on its own; stopped: the user stopped it; cut: it hit the token or context limit;
#: pending: still being written (or the app died while writing it); failed: generation failed.
MESSAGE_STATUSES: tuple[MessageStatus, ...] = ("complete", "stopped", "cut", "pending", "failed")

TITLE_LENGTH = 60


def title_from_message(text: str, limit: int = TITLE_LENGTH) -> str:
    """A conversation title made from a message: one line, at most ``limit`` characters.

    A longer text is cut on a word boundary and ends with an ellipsis; a single
    word longer than the limit is cut inside it.
    """
    line = " ".join(text.split())
    if len(line) <= limit:
        return line
    cut = line[: limit - 1]
    space = cut.rfind(" ")
    ends_a_word = line[limit - 1] == " "
    if not ends_a_word and space >= limit // 2:  # a boundary not too far back; else cut inside the word
        cut = cut[:space]
    return cut.rstrip(" ,.;:-") + "…"


def timestamp(seconds: float) -> datetime:
    """A stored time (seconds since the epoch) as an aware UTC datetime."""
    return datetime.fromtimestamp(seconds, tz=UTC)


@dataclass(frozen=True)
class ConversationSummary:
    """One line of the conversation list.

    Attributes:
        id: The conversation's id (32 hex digits).
        title: Its title; empty until the first user message gives it one.
        created_at: When it was started (UTC).
        updated_at: When a message was last added or changed (UTC).
        message_count: How many messages it holds, system prompt included.
        expert_role: The name of the expert role it was started with; empty for none.
    """

    id: str
    title: str
    created_at: datetime
    updated_at: datetime
    message_count: int
    expert_role: str


@dataclass(frozen=True)
class StoredMessage:
    """One message as stored.

    Attributes:
        id: The message's id; ids are never reused, even after a message is dropped.
        conversation_id: The conversation it belongs to.
        position: Its place in the conversation, from 0.
        role: ``system``, ``user`` or ``assistant``.
        content: Its text (for a pending reply, what had been generated when it was last saved).
        expert_role: The expert role in effect when it was written; empty for none.
        model_ref: The model that wrote it, as ``str(ModelRef)``: a GGUF path or ``ollama:NAME``.
        rung: The quantization the model ran at (``q4_k_m``); empty when unknown.
        stats: Measured facts about a reply (tokens, tokens/s, time to first token), or None.
        status: ``complete``, ``stopped``, ``cut``, ``pending`` or ``failed``.
        sources: The documents a reply drew on (retrieval), or None.
        created_at: When it was added (UTC).
    """

    id: int
    conversation_id: str
    position: int
    role: MessageRole
    content: str
    expert_role: str
    model_ref: str
    rung: str
    stats: Mapping[str, object] | None = field(hash=False)
    status: MessageStatus
    sources: tuple[Mapping[str, object], ...] | None = field(hash=False)
    created_at: datetime


@dataclass(frozen=True)
class StoredConversation:
    """A whole conversation, messages in order.

    Attributes:
        id: The conversation's id (32 hex digits).
        title: Its title; may be empty.
        created_at: When it was started (UTC).
        updated_at: When a message was last added or changed (UTC).
        expert_role: The expert role in force in it (last chosen); empty for none.
        messages: Its messages, oldest first.
        use_documents: Whether it answers from the documents; None when not recorded (the role decides).
    """

    id: str
    title: str
    created_at: datetime
    updated_at: datetime
    expert_role: str
    messages: tuple[StoredMessage, ...]
    use_documents: bool | None = None

    @property
    def model_ref(self) -> str:
        """The model of the latest reply (a conversation may switch models); empty if none replied."""
        for message in reversed(self.messages):
            if message.role == "assistant" and message.model_ref:
                return message.model_ref
        return ""


@dataclass(frozen=True)
class SearchHit:
    """A message (or a conversation title) that matches a search.

    A title is a hit only when none of the conversation's messages is one.

    Attributes:
        conversation_id: The conversation it is in.
        title: That conversation's title.
        message_id: The matching message; None when the title matched.
        snippet: The matching words in a few words of context, on one line, each match
            between the markers given to the search (``**`` by default).
        rank: FTS5's bm25 score, title matches weighted double: lower is a better match.
    """

    conversation_id: str
    title: str
    message_id: int | None
    snippet: str
    rank: float
