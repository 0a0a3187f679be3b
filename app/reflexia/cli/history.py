"""`reflexia history`: list, show, search, export and delete stored conversations.

The history lives in ``paths.data_dir() / "history.sqlite3"`` (``REFLEXIA_HOME`` moves
it). Conversations are named by their ID or a unique prefix of at least 4 hex digits,
as ``history list`` prints them. ``--json`` output is a stable contract: keys are
added, never renamed.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from reflexia.core.atomic_file import atomic_output
from reflexia.core.errors import ReflexiaError
from reflexia.core.history.export import model_label, stats_line
from reflexia.core.history.records import StoredConversation
from reflexia.core.history.store import HistoryStore, default_history_path

SHORT_ID = 8  # digits `history list` shows: plenty to be unique in one person's history
UNTITLED = "(untitled)"

AnyParser = TypeVar("AnyParser", bound=argparse.ArgumentParser)  # `reflexia` uses its own subclass


class HistoryCommandError(ReflexiaError):
    """A history sub-command could not do what was asked (e.g. write the export file)."""


def add_history_parser(commands: argparse._SubParsersAction[AnyParser]) -> None:
    """Register ``history`` and its actions on the ``reflexia`` parser's sub-commands."""
    history = commands.add_parser("history", help="list, show, search, export or delete stored conversations")
    actions = history.add_subparsers(dest="history_command", metavar="ACTION", required=True)
    id_help = "a conversation ID, or its first 4+ digits as `history list` shows them"

    listing = actions.add_parser("list", help="conversations, the most recent first")
    listing.add_argument("--json", action="store_true", help="print one JSON object")

    show = actions.add_parser("show", help="print a whole conversation")
    show.add_argument("id", metavar="ID", help=id_help)
    show.add_argument("--json", action="store_true", help="print the conversation as JSON (as export does)")

    search = actions.add_parser("search", help="find messages and titles containing all the words given")
    search.add_argument("query", nargs="+", metavar="QUERY", help="words to look for (prefixes match)")
    search.add_argument("--json", action="store_true", help="print one JSON object")

    export = actions.add_parser("export", help="write a conversation as Markdown or JSON")
    export.add_argument("id", metavar="ID", help=id_help)
    export.add_argument("--format", required=True, choices=("md", "json"), help="md or json")
    export.add_argument(
        "--out", type=Path, default=None, metavar="PATH", help="file to write (default: standard output)"
    )

    delete = actions.add_parser("delete", help="delete a conversation (the app can still undo it)")
    delete.add_argument("id", metavar="ID", help=id_help)


def _when(moment: datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def _list(store: HistoryStore, as_json: bool) -> None:
    conversations = store.list_conversations()
    if as_json:
        rows = [
            {
                "id": c.id,
                "title": c.title,
                "created": c.created_at.isoformat(),
                "updated": c.updated_at.isoformat(),
                "messages": c.message_count,
                "role": c.expert_role,
            }
            for c in conversations
        ]
        print(json.dumps({"conversations": rows}, ensure_ascii=False))
        return
    if not conversations:
        print("No conversations yet.")
        return
    print(f"{'ID':<{SHORT_ID}}  {'UPDATED':<16}  {'MESSAGES':>8}  TITLE")
    for c in conversations:
        title = c.title or UNTITLED
        if c.expert_role:
            title += f"  [{c.expert_role}]"
        print(f"{c.id[:SHORT_ID]}  {_when(c.updated_at)}  {c.message_count:>8}  {title}")


def _show_text(conversation: StoredConversation) -> None:
    count = len(conversation.messages)
    facts = [
        f"ID {conversation.id}",
        f"{count} message{'' if count == 1 else 's'}",
        f"started {_when(conversation.created_at)}",
        f"updated {_when(conversation.updated_at)}",
    ]
    if conversation.expert_role:
        facts.append(f"role {conversation.expert_role}")
    print(conversation.title or UNTITLED)
    print(" · ".join(facts))
    speakers = {"system": "System prompt", "user": "You", "assistant": "Assistant"}
    for message in conversation.messages:
        heading = [speakers[message.role]]
        if message.role == "assistant":
            heading += [part for part in (model_label(message.model_ref), stats_line(message.stats)) if part]
            if message.status != "complete":
                heading.append(message.status)
        print()
        print(" · ".join(heading))
        print(message.content.rstrip())


def _search(store: HistoryStore, query: str, as_json: bool) -> None:
    hits = store.search(query)
    if as_json:
        rows = [
            {
                "conversation_id": h.conversation_id,
                "title": h.title,
                "message_id": h.message_id,
                "snippet": h.snippet,
                "rank": h.rank,
            }
            for h in hits
        ]
        print(json.dumps({"query": query, "hits": rows}, ensure_ascii=False))
        return
    if not hits:
        print(f"No messages or titles match {query!r}.")
        return
    for hit in hits:
        where = "title" if hit.message_id is None else f"message {hit.message_id}"
        print(f"{hit.conversation_id[:SHORT_ID]}  {hit.title or UNTITLED}  ({where})")
        print(f"{'':{SHORT_ID}}  {hit.snippet}")


def _export(store: HistoryStore, conversation_id: str, form: str, out: Path | None) -> None:
    if form == "md":
        text = store.export_markdown(conversation_id)
    else:
        text = json.dumps(store.export_json(conversation_id), ensure_ascii=False, indent=2) + "\n"
    if out is None:
        sys.stdout.write(text)
        return
    if out.is_dir():
        raise HistoryCommandError(f"history export: {out} is a folder; give a file path")
    try:
        with atomic_output(out) as partial:
            partial.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise HistoryCommandError(f"history export: cannot write {out}: {exc.strerror or exc}") from exc
    print(out)


def cmd_history(args: argparse.Namespace) -> int:
    """`reflexia history list|show|search|export|delete`."""
    with HistoryStore(default_history_path()) as store:
        action = args.history_command
        if action == "list":
            _list(store, args.json)
        elif action == "search":
            _search(store, " ".join(args.query), args.json)
        else:
            conversation_id = store.resolve_id(args.id)
            if action == "show" and args.json:
                print(json.dumps(store.export_json(conversation_id), ensure_ascii=False))
            elif action == "show":
                _show_text(store.get_conversation(conversation_id))
            elif action == "export":
                _export(store, conversation_id, args.format, args.out)
            elif action == "delete":
                title = store.get_conversation(conversation_id).title or UNTITLED
                store.delete(conversation_id)
                print(f"deleted {conversation_id[:SHORT_ID]}  {title}")
    return 0
