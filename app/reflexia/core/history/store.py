"""The conversation history: conversations and their messages in one SQLite file.

Every change commits at once, so a conversation survives the app being killed
at any moment: a reply being written is stored as ``pending`` and updated as it
grows. The caller stores the user's message before generation starts.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import cast

from reflexia.core.config import paths
from reflexia.core.errors import HistoryStoreError
from reflexia.core.history.export import conversation_json, conversation_markdown
from reflexia.core.history.records import (
    MESSAGE_ROLES,
    MESSAGE_STATUSES,
    ConversationSummary,
    MessageRole,
    MessageStatus,
    SearchHit,
    StoredConversation,
    StoredMessage,
    timestamp,
    title_from_message,
)
from reflexia.core.history.schema import open_database
from reflexia.core.history.search import DEFAULT_MARK, find_hits

HISTORY_FILE_NAME = "history.sqlite3"
MIN_ID_PREFIX = 4

_MESSAGE_COLUMNS = (
    "id, conversation_id, position, role, content, expert_role, model_ref, rung, stats_json, status, "
    "sources_json, created_at"
)


def default_history_path() -> Path:
    """Where the app and the ``reflexia history`` command keep the history (``REFLEXIA_HOME`` moves it)."""
    return paths.data_dir() / HISTORY_FILE_NAME


def _stats_json(stats: Mapping[str, object] | None) -> str | None:
    return None if stats is None else json.dumps(dict(stats), ensure_ascii=False)


def _sources_json(sources: Sequence[Mapping[str, object]] | None) -> str | None:
    return None if sources is None else json.dumps([dict(s) for s in sources], ensure_ascii=False)


def _check_status(status: str) -> None:
    if status not in MESSAGE_STATUSES:
        raise ValueError(f"unknown message status {status!r} (choose from {', '.join(MESSAGE_STATUSES)})")


def _message(row: sqlite3.Row) -> StoredMessage:
    stats = json.loads(row["stats_json"]) if row["stats_json"] is not None else None
    sources = json.loads(row["sources_json"]) if row["sources_json"] is not None else None
    return StoredMessage(
        id=int(row["id"]),
        conversation_id=str(row["conversation_id"]),
        position=int(row["position"]),
        role=cast(MessageRole, row["role"]),
        content=str(row["content"]),
        expert_role=str(row["expert_role"]),
        model_ref=str(row["model_ref"]),
        rung=str(row["rung"]),
        stats=stats if isinstance(stats, dict) else None,
        status=cast(MessageStatus, row["status"]),
        sources=tuple(s for s in sources if isinstance(s, dict)) if isinstance(sources, list) else None,
        created_at=timestamp(float(row["created_at"])),
    )


class HistoryStore:
    """Conversations and their messages, stored in a SQLite file that survives a crash.

    The app keeps its history at :func:`default_history_path`. Opening an
    older store migrates it; a damaged file or one from a newer Reflexia is refused with
    a :class:`HistoryStoreError` and never changed.

    Threads: a store belongs to the thread that opened it (SQLite's ``check_same_thread``);
    another thread opens its own ``HistoryStore`` on the same path. Several stores, in one
    process or several, may share a file: readers never wait for the writer, writers take
    turns (waiting up to 5 s).

    Every method raises :class:`HistoryStoreError` (one line naming the file and the
    reason) when the database cannot be read or written, and when the conversation or
    message it is given does not exist. Deleted conversations count as not existing,
    except to :meth:`undo_delete`.
    """

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        """Open the store at ``path``, creating it (and its folder) if need be.

        Args:
            path: The database file.
            clock: Seconds since the epoch; tests pass their own to order conversations.

        Raises:
            HistoryStoreError: the file cannot be opened or is not a history this Reflexia can use.
        """
        self.path = path
        self._clock = clock
        self._db = open_database(path)
        self._db.row_factory = sqlite3.Row

    def close(self) -> None:
        """Close the file. Everything is already saved; the store cannot be used afterwards."""
        self._db.close()

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- transactions ----------------------------------------------------------------------------

    def _failed(self, exc: sqlite3.Error) -> HistoryStoreError:
        return HistoryStoreError(f"{self.path}: the conversation history cannot be used: {exc}")

    def _roll_back(self) -> None:
        with suppress(sqlite3.Error):  # the error that got us here is the one worth reporting
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, committed (made durable) when the block ends."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._roll_back()
                raise
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._roll_back()
            raise self._failed(exc) from exc

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: several queries see the same state of the file."""
        try:
            self._db.execute("BEGIN")
            try:
                yield self._db
            finally:
                if self._db.in_transaction:
                    self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise self._failed(exc) from exc

    @staticmethod
    def _require(db: sqlite3.Connection, conversation_id: str) -> sqlite3.Row:
        row = db.execute(
            "SELECT * FROM conversations WHERE id = ? AND deleted_at IS NULL", (conversation_id,)
        ).fetchone()
        if row is None:
            raise HistoryStoreError(f"no conversation {conversation_id}")
        return cast(sqlite3.Row, row)

    # --- conversations ---------------------------------------------------------------------------

    def create_conversation(
        self,
        title: str = "",
        expert_role: str = "",
        *,
        conversation_id: str | None = None,
        use_documents: bool | None = None,
    ) -> str:
        """Start a conversation and return its id (32 hex digits).

        An empty title is filled from the first user message (see :meth:`add_message`).
        ``conversation_id`` keeps the id the engine already knows the conversation by, so
        resuming it later finds its saved KV cache.
        """
        conversation_id = conversation_id or uuid.uuid4().hex
        now = self._clock()
        with self._writing() as db:
            db.execute(
                "INSERT INTO conversations (id, title, expert_role, created_at, updated_at, use_documents) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (conversation_id, " ".join(title.split()), expert_role, now, now, use_documents),
            )
        return conversation_id

    def set_options(self, conversation_id: str, *, expert_role: str, use_documents: bool) -> bool:
        """Record the role and the documents switch in force in a conversation, to restore them on opening.

        Not a change of its content: the list's order stays. Returns False when no such
        conversation is stored (a new chat is stored with its first message).
        """
        with self._writing() as db:
            cursor = db.execute(
                "UPDATE conversations SET expert_role = ?, use_documents = ? "
                "WHERE id = ? AND deleted_at IS NULL",
                (expert_role, use_documents, conversation_id),
            )
        return cursor.rowcount > 0

    def list_conversations(self, limit: int | None = None) -> list[ConversationSummary]:
        """Conversations not deleted, the most recently updated first."""
        return self._summaries("", (-1 if limit is None else max(limit, 0),))

    def conversation_summary(self, conversation_id: str) -> ConversationSummary:
        """One conversation's line of the list (after a change to it: the list changes in place)."""
        summaries = self._summaries("AND c.id = ?", (conversation_id, 1))
        if not summaries:
            raise HistoryStoreError(f"no conversation {conversation_id}")
        return summaries[0]

    def _summaries(self, where: str, params: tuple[object, ...]) -> list[ConversationSummary]:
        with self._reading() as db:
            rows = db.execute(
                f"""
                SELECT c.id, c.title, c.created_at, c.updated_at, c.expert_role,
                       (SELECT COUNT(*) FROM messages AS m WHERE m.conversation_id = c.id) AS message_count
                FROM conversations AS c WHERE c.deleted_at IS NULL {where}
                ORDER BY c.updated_at DESC, c.seq DESC LIMIT ?
                """,
                params,
            ).fetchall()
        return [
            ConversationSummary(
                id=str(row["id"]),
                title=str(row["title"]),
                created_at=timestamp(float(row["created_at"])),
                updated_at=timestamp(float(row["updated_at"])),
                message_count=int(row["message_count"]),
                expert_role=str(row["expert_role"]),
            )
            for row in rows
        ]

    def get_conversation(self, conversation_id: str) -> StoredConversation:
        """A conversation with all its messages, oldest first."""
        with self._reading() as db:
            row = self._require(db, conversation_id)
            messages = db.execute(
                f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? ORDER BY position",
                (conversation_id,),
            ).fetchall()
        return StoredConversation(
            id=str(row["id"]),
            title=str(row["title"]),
            created_at=timestamp(float(row["created_at"])),
            updated_at=timestamp(float(row["updated_at"])),
            expert_role=str(row["expert_role"]),
            messages=tuple(_message(m) for m in messages),
            use_documents=None if row["use_documents"] is None else bool(row["use_documents"]),
        )

    def resolve_id(self, text: str) -> str:
        """The full id of the conversation whose id starts with ``text`` (at least 4 hex digits)."""
        prefix = text.strip().lower()
        if len(prefix) < MIN_ID_PREFIX or any(ch not in "0123456789abcdef" for ch in prefix):
            raise HistoryStoreError(
                f"{text!r} is not a conversation ID: give at least {MIN_ID_PREFIX} of its hex digits"
            )
        with self._reading() as db:
            rows = db.execute(
                "SELECT id FROM conversations WHERE id LIKE ? AND deleted_at IS NULL ORDER BY id LIMIT 2",
                (prefix + "%",),
            ).fetchall()
        if not rows:
            raise HistoryStoreError(f"no conversation {text}")
        if len(rows) > 1:
            raise HistoryStoreError(f"more than one conversation ID starts with {text}: give more digits")
        return str(rows[0]["id"])

    def rename(self, conversation_id: str, title: str) -> None:
        """Give a conversation a new title; an empty one goes back to its first user message."""
        title = " ".join(title.split())
        with self._writing() as db:
            self._require(db, conversation_id)
            if not title:
                first = db.execute(
                    "SELECT content FROM messages WHERE conversation_id = ? AND role = 'user' "
                    "ORDER BY position LIMIT 1",
                    (conversation_id,),
                ).fetchone()
                title = title_from_message(first["content"]) if first else ""
            db.execute("UPDATE conversations SET title = ? WHERE id = ?", (title, conversation_id))

    def delete(self, conversation_id: str) -> None:
        """Delete a conversation; :meth:`undo_delete` brings it back until :meth:`purge_deleted`."""
        with self._writing() as db:
            self._require(db, conversation_id)
            db.execute(
                "UPDATE conversations SET deleted_at = ? WHERE id = ?", (self._clock(), conversation_id)
            )

    def undo_delete(self, conversation_id: str) -> None:
        """Bring back a deleted conversation, in its old place in the list."""
        with self._writing() as db:
            if db.execute("SELECT 1 FROM conversations WHERE id = ?", (conversation_id,)).fetchone() is None:
                raise HistoryStoreError(f"no conversation {conversation_id} to bring back (it may be purged)")
            db.execute("UPDATE conversations SET deleted_at = NULL WHERE id = ?", (conversation_id,))

    def purge_deleted(self) -> int:
        """Remove deleted conversations for good (no undo after this); returns how many."""
        with self._writing() as db:
            return db.execute("DELETE FROM conversations WHERE deleted_at IS NOT NULL").rowcount

    # --- messages --------------------------------------------------------------------------------

    def add_message(
        self,
        conversation_id: str,
        role: MessageRole,
        content: str,
        *,
        expert_role: str = "",
        model_ref: str = "",
        rung: str = "",
        stats: Mapping[str, object] | None = None,
        status: MessageStatus = "complete",
        sources: Sequence[Mapping[str, object]] | None = None,
    ) -> int:
        """Append a message to a conversation and return its id; saved when this returns.

        The conversation moves to the top of the list. The first user message gives an
        untitled conversation its title (about 60 characters, cut on a word boundary).
        A reply about to be generated is added as ``status="pending"`` and then updated
        with :meth:`update_message` as it grows and when it ends.

        Args:
            conversation_id: The conversation.
            role: ``system``, ``user`` or ``assistant``.
            content: The text (may be empty for a pending reply).
            expert_role: The expert role in effect.
            model_ref: ``str(ModelRef)`` of the model that writes a reply.
            rung: The quantization the model runs at.
            stats: JSON-ready figures of a reply (``dataclasses.asdict(GenerationStats)``).
            status: One of :data:`MESSAGE_STATUSES`.
            sources: JSON-ready descriptions of the documents a reply drew on.
        """
        if role not in MESSAGE_ROLES:
            raise ValueError(f"unknown message role {role!r} (choose from {', '.join(MESSAGE_ROLES)})")
        _check_status(status)
        now = self._clock()
        with self._writing() as db:
            conversation = self._require(db, conversation_id)
            cursor = db.execute(
                f"""
                INSERT INTO messages ({_MESSAGE_COLUMNS})
                VALUES (NULL, ?,
                        (SELECT COALESCE(MAX(position) + 1, 0) FROM messages WHERE conversation_id = ?),
                        ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                (
                    conversation_id, conversation_id, role, content, expert_role, model_ref, rung,
                    _stats_json(stats), status, _sources_json(sources), now,
                ),
            )  # fmt: skip
            db.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (now, conversation_id))
            if role == "user" and not conversation["title"] and (title := title_from_message(content)):
                # Apart from the update above: a title change re-indexes the title for search.
                db.execute("UPDATE conversations SET title = ? WHERE id = ?", (title, conversation_id))
            assert cursor.lastrowid is not None  # an INSERT into a rowid table always sets it
            return cursor.lastrowid

    def update_message(
        self,
        message_id: int,
        *,
        content: str | None = None,
        status: MessageStatus | None = None,
        stats: Mapping[str, object] | None = None,
        sources: Sequence[Mapping[str, object]] | None = None,
        model_ref: str | None = None,
        rung: str | None = None,
    ) -> None:
        """Change what is given of a message (a reply growing, then finishing); saved when this returns.

        Arguments left at None are kept. While a reply streams, saving a few times a second
        is plenty: each save rewrites the message and its search entry.
        """
        if status is not None:
            _check_status(status)
        changes: dict[str, object] = {}
        if content is not None:
            changes["content"] = content
        if status is not None:
            changes["status"] = status
        if stats is not None:
            changes["stats_json"] = _stats_json(stats)
        if sources is not None:
            changes["sources_json"] = _sources_json(sources)
        if model_ref is not None:  # what made a reply is known when it ends
            changes["model_ref"] = model_ref
        if rung is not None:
            changes["rung"] = rung
        with self._writing() as db:
            row = db.execute(
                "SELECT m.conversation_id FROM messages AS m JOIN conversations AS c "
                "ON c.id = m.conversation_id WHERE m.id = ? AND c.deleted_at IS NULL",
                (message_id,),
            ).fetchone()
            if row is None:
                raise HistoryStoreError(f"no message {message_id}")
            if changes:
                assignments = ", ".join(f"{column} = ?" for column in changes)  # fixed names from above
                db.execute(f"UPDATE messages SET {assignments} WHERE id = ?", (*changes.values(), message_id))
                db.execute(
                    "UPDATE conversations SET updated_at = ? WHERE id = ?",
                    (self._clock(), row["conversation_id"]),
                )

    def drop_from(self, conversation_id: str, message_id: int) -> int:
        """Drop ``message_id`` and every message after it (a message taken back); returns how many."""
        return self._drop(conversation_id, message_id, keep_it=False)

    def truncate_after(self, conversation_id: str, message_id: int) -> int:
        """Drop every message after ``message_id`` (edit and resend, regenerate); returns how many.

        To regenerate a reply, truncate after the user message before it; to edit and resend,
        truncate after the edited message and update its content.
        """
        return self._drop(conversation_id, message_id, keep_it=True)

    def _drop(self, conversation_id: str, message_id: int, *, keep_it: bool) -> int:
        with self._writing() as db:
            self._require(db, conversation_id)
            row = db.execute(
                "SELECT position FROM messages WHERE id = ? AND conversation_id = ?",
                (message_id, conversation_id),
            ).fetchone()
            if row is None:
                raise HistoryStoreError(f"no message {message_id} in conversation {conversation_id}")
            first = row["position"] + (1 if keep_it else 0)
            sql = "DELETE FROM messages WHERE conversation_id = ? AND position >= ?"
            dropped = int(db.execute(sql, (conversation_id, first)).rowcount)
            if dropped:
                db.execute(
                    "UPDATE conversations SET updated_at = ? WHERE id = ?", (self._clock(), conversation_id)
                )
            return dropped

    # --- search and export -----------------------------------------------------------------------

    def search(
        self,
        query: str,
        limit: int = 50,
        *,
        mark: tuple[str, str] = DEFAULT_MARK,
        per_conversation: bool = False,
    ) -> list[SearchHit]:
        """Messages and titles containing all the user's words, best match first.

        Words match as prefixes, ignoring case and accents; query syntax is never
        interpreted (a query of punctuation only finds nothing). System prompts and
        deleted conversations are not searched.

        Args:
            query: What the user typed.
            limit: The most hits to return.
            mark: Put before and after each matching word in :attr:`SearchHit.snippet`.
            per_conversation: Only each conversation's best hit (the sidebar lists conversations).
        """
        with self._reading() as db:
            return find_hits(db, query, limit, mark, per_conversation=per_conversation)

    def export_markdown(self, conversation_id: str) -> str:
        """The conversation as a Markdown document: title, then each message under who said it."""
        return conversation_markdown(self.get_conversation(conversation_id))

    def export_json(self, conversation_id: str) -> dict[str, object]:
        """The conversation as a JSON-ready dict (see :func:`export.conversation_json`)."""
        return conversation_json(self.get_conversation(conversation_id))
