"""A stored conversation as a Markdown document a person reads, or as JSON a program reads."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import PurePosixPath, PureWindowsPath

from reflexia.core.history.records import StoredConversation, StoredMessage

#: Bumped when a key of the JSON export changes meaning or goes away (adding keys does not bump it).
JSON_FORMAT_VERSION = 1

_SPEAKERS = {"system": "System prompt", "user": "You", "assistant": "Assistant"}
_STATUS_NOTES = {
    "stopped": "stopped by the user",
    "cut": "cut short at the length limit",
    "pending": "unfinished: the reply was still being written",
    "failed": "the reply failed",
}
# "ollama:llama3.2" and the like; a one-letter prefix is a Windows drive ("C:\...").
_SERVER_REF = re.compile(r"^[a-z][a-z0-9.+-]+:", re.IGNORECASE)


def model_label(model_ref: str) -> str:
    """How a model is named to a reader: a GGUF file by its file name, a server model as given."""
    if not model_ref or _SERVER_REF.match(model_ref):
        return model_ref
    path = PureWindowsPath(model_ref) if "\\" in model_ref else PurePosixPath(model_ref)
    return path.name or model_ref


def _local_time(moment: datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def stats_line(stats: Mapping[str, object] | None) -> str:
    """A reply's measured figures for a reader, e.g. ``42 tokens · 35.1 tokens/s · first token 0.12 s``."""
    if not stats:
        return ""
    parts: list[str] = []
    tokens = stats.get("completion_tokens")
    if isinstance(tokens, int) and not isinstance(tokens, bool):
        parts.append(f"{tokens} token{'' if tokens == 1 else 's'}")
    speed = stats.get("tokens_per_s")
    if isinstance(speed, int | float) and not isinstance(speed, bool):
        parts.append(f"{speed:.1f} tokens/s")
    ttft = stats.get("ttft_s")
    if isinstance(ttft, int | float) and not isinstance(ttft, bool):
        parts.append(f"first token {ttft:.2f} s")
    return " · ".join(parts)


def _speaker(message: StoredMessage) -> str:
    speaker = _SPEAKERS[message.role]
    if message.role == "assistant":
        label = model_label(message.model_ref)
        if message.rung and message.rung.lower() not in label.lower():
            label = f"{label} ({message.rung})" if label else message.rung
        if label:
            speaker += f" · {label}"
    return speaker


def _source_name(source: Mapping[str, object]) -> str:
    page = source.get("page")
    for key in ("title", "name", "path", "source", "url"):
        value = source.get(key)
        if isinstance(value, str) and value:
            return f"{value}, page {page}" if isinstance(page, int) else value
    return str(dict(source))


def conversation_markdown(conversation: StoredConversation) -> str:
    """The conversation as Markdown: a title, then each message under who said it."""
    facts = [f"Started {_local_time(conversation.created_at)}"]
    if conversation.expert_role:
        facts.append(f"expert role: {conversation.expert_role}")
    lines = [f"# {conversation.title or 'Untitled conversation'}", "", f"*{' · '.join(facts)}*", ""]
    for message in conversation.messages:
        lines += [f"## {_speaker(message)}", "", message.content.rstrip() or "*(empty)*", ""]
        notes = []
        if message.status in _STATUS_NOTES:
            notes.append(_STATUS_NOTES[message.status])
        if message.role == "assistant" and (figures := stats_line(message.stats)):
            notes.append(figures)
        if notes:
            lines += [f"*{' — '.join(notes)}*", ""]
        if message.sources:
            lines += ["Sources:", *(f"- {_source_name(source)}" for source in message.sources), ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def conversation_json(conversation: StoredConversation) -> dict[str, object]:
    """The conversation as a JSON-ready dict (a stable contract: keys are added, never renamed).

    Times are ISO 8601 in UTC; ``model`` is the model of the latest reply; ``stats`` and
    ``sources`` are null when not recorded.
    """
    return {
        "format": "reflexia.conversation",
        "version": JSON_FORMAT_VERSION,
        "id": conversation.id,
        "title": conversation.title,
        "created": conversation.created_at.isoformat(),
        "updated": conversation.updated_at.isoformat(),
        "role": conversation.expert_role,
        "model": conversation.model_ref,
        "messages": [
            {
                "id": message.id,
                "role": message.role,
                "content": message.content,
                "status": message.status,
                "created": message.created_at.isoformat(),
                "expert_role": message.expert_role,
                "model": message.model_ref,
                "rung": message.rung,
                "stats": None if message.stats is None else dict(message.stats),
                "sources": None if message.sources is None else [dict(s) for s in message.sources],
            }
            for message in conversation.messages
        ],
    }
