"""The history's own thread: every read and write of the SQLite store happens here.

A write may wait up to 5 s for another process (a terminal ``reflexia chat``) that holds the
file; a search or the start-up migration may take long on a large history. None of it may
stall the window, so the GUI thread only sends requests (frozen values, handled in the order
sent) and receives results and failures as signals.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from PySide6.QtCore import QObject, QThread, Signal, Slot

from reflexia.core.errors import as_user_error
from reflexia.core.history.records import MessageRole, MessageStatus, StoredMessage
from reflexia.core.history.store import HistoryStore

log = logging.getLogger(__name__)

#: Around each matching word of a search snippet; the sidebar shows them as bold.
MATCH_MARKS = ("\x02", "\x03")


@dataclass(frozen=True)
class Request:
    """Something for the history thread to do; ``failure`` opens the message if it fails."""

    failure: ClassVar[str] = "The conversation history could not be used"


@dataclass(frozen=True)
class OpenStore(Request):
    """Open (and migrate) the store: the first request."""

    path: Path
    failure: ClassVar[str] = "Conversations are not being saved"


@dataclass(frozen=True)
class Relist(Request):
    """Every conversation again (another process, ``reflexia chat --save``, may have added some)."""


@dataclass(frozen=True)
class RecordMessage(Request):
    """The user's message, and the reply about to be made (``pending``) after it."""

    conversation_id: str
    text: str
    expert_role: str
    model_ref: str
    rung: str
    use_documents: bool | None = None  # the conversation's documents switch, stored when it is created
    failure: ClassVar[str] = "This conversation is not being saved"


@dataclass(frozen=True)
class FinishReply(Request):
    """The pending reply of a conversation, as it ended."""

    conversation_id: str
    text: str
    status: MessageStatus
    stats: Mapping[str, object]
    sources: Sequence[Mapping[str, object]] | None
    model_ref: str  # what made the reply (known when it ends)
    rung: str
    failure: ClassVar[str] = "The reply was not saved"


@dataclass(frozen=True)
class SetOptions(Request):
    """A conversation's role and documents switch, to restore when it is opened again."""

    conversation_id: str
    expert_role: str
    use_documents: bool
    failure: ClassVar[str] = "The conversation's role and documents switch were not saved"


@dataclass(frozen=True)
class AdoptTurns(Request):
    """Another client's conversation, stored so the window can continue it."""

    conversation_id: str
    expert_role: str
    turns: tuple[tuple[MessageRole, str, str, str], ...]  # role, content, model_ref, rung
    failure: ClassVar[str] = "The quick prompt's conversation was not saved"


@dataclass(frozen=True)
class TakeBack(Request):
    """Drop one of the user's messages and all after it; :class:`RestoreTakenBack` undoes it."""

    conversation_id: str
    later: int  # how many of the user's messages come after it


@dataclass(frozen=True)
class RestoreTakenBack(Request):
    """Put back what the last :class:`TakeBack` of a conversation dropped (Undo of an edit)."""

    conversation_id: str
    failure: ClassVar[str] = "The earlier turns could not be restored"


@dataclass(frozen=True)
class Rename(Request):
    """Give a conversation a title."""

    conversation_id: str
    title: str


@dataclass(frozen=True)
class Delete(Request):
    """Delete a conversation (or bring it back with ``undo``)."""

    conversation_id: str
    undo: bool = False


@dataclass(frozen=True)
class Search(Request):
    """Find conversations; the answer carries ``ticket`` so a stale one can be dropped."""

    ticket: int
    query: str


@dataclass(frozen=True)
class Load(Request):
    """Read a conversation to continue it."""

    conversation_id: str
    failure: ClassVar[str] = "The conversation could not be opened"


@dataclass(frozen=True)
class Export(Request):
    """Write a conversation to ``path`` as Markdown (``md``) or JSON (``json``)."""

    conversation_id: str
    form: str
    path: Path
    failure: ClassVar[str] = "Could not export"


@dataclass(frozen=True)
class Close(Request):
    """Close the store and end the thread, after every request sent before it."""


class HistoryWorker(QObject):
    """Owns the history thread's :class:`HistoryStore`; runs on that thread only.

    Signals:
        opened(list): the store is open (or was asked again); its conversations
            (ConversationSummary), newest first.
        saved(object): a conversation changed (ConversationSummary): its row changes in place.
        removed(str): a conversation was deleted.
        found(int, list): search hits (SearchHit) for a ticket.
        loaded(object, str): a conversation to continue (StoredConversation), and the user's
            unanswered last message ("" if none), taken out of it.
        restored(object): the conversation (StoredConversation) with its taken-back turns back.
        exported(str): the path written.
        failed(object, str): a request (Request) failed; the message is for the user.
        done(): a request was handled (after its other signals).
    """

    opened = Signal(list)
    saved = Signal(object)
    removed = Signal(str)
    found = Signal(int, list)
    loaded = Signal(object, str)
    restored = Signal(object)
    exported = Signal(str)
    failed = Signal(object, str)
    done = Signal()

    def __init__(self) -> None:
        super().__init__()
        self._store: HistoryStore | None = None
        self._known: set[str] = set()  # conversation ids the store holds (new chats are not there yet)
        self._pending: dict[str, int] = {}  # conversation id -> the id of its reply being made
        self._taken_back: dict[str, tuple[StoredMessage, ...]] = {}

    @Slot(object)
    def run(self, request: Request) -> None:
        """Handle one request; whatever is raised ends as ``failed``, and every request as ``done``."""
        try:
            if isinstance(request, OpenStore):
                self._store = HistoryStore(request.path)
                self.opened.emit(self._store.list_conversations())
            elif isinstance(request, Close):
                self._close()
            elif self._store is not None:  # without a store (it could not be opened) nothing is kept
                self._handle(self._store, request)
        except Exception as exc:  # the boundary: the window hears of every failure
            log.warning("history request %s failed: %s", type(request).__name__, exc)
            self.failed.emit(request, f"{request.failure}: {as_user_error(exc, 'using the history')}")
        finally:
            self.done.emit()

    def _close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
        thread = QThread.currentThread()
        thread.quit()

    def _handle(self, store: HistoryStore, request: Request) -> None:
        if isinstance(request, Relist):
            self.opened.emit(store.list_conversations())
        elif isinstance(request, RecordMessage):
            self._record(store, request)
        elif isinstance(request, FinishReply):
            reply = self._pending.pop(request.conversation_id, None)
            if reply is not None:  # else recording the message failed: it said so then
                store.update_message(
                    reply,
                    content=request.text,
                    status=request.status,
                    stats=request.stats,
                    sources=request.sources,
                    model_ref=request.model_ref,
                    rung=request.rung,
                )
                self.saved.emit(store.conversation_summary(request.conversation_id))
        elif isinstance(request, SetOptions):
            # A new chat has no row yet: it is stored with its options at its first message.
            store.set_options(
                request.conversation_id, expert_role=request.expert_role, use_documents=request.use_documents
            )
        elif isinstance(request, AdoptTurns):
            self._adopt(store, request)
        elif isinstance(request, TakeBack):
            self._take_back(store, request)
        elif isinstance(request, RestoreTakenBack):
            self._restore(store, request.conversation_id)
        elif isinstance(request, Rename):
            store.rename(request.conversation_id, request.title)
            self.saved.emit(store.conversation_summary(request.conversation_id))
        elif isinstance(request, Delete) and request.undo:
            store.undo_delete(request.conversation_id)
            self.saved.emit(store.conversation_summary(request.conversation_id))
        elif isinstance(request, Delete):
            store.delete(request.conversation_id)
            self.removed.emit(request.conversation_id)
        elif isinstance(request, Search):
            self.found.emit(
                request.ticket, store.search(request.query, mark=MATCH_MARKS, per_conversation=True)
            )
        elif isinstance(request, Load):
            self._load(store, request.conversation_id)
        elif isinstance(request, Export):
            if request.form == "md":
                text = store.export_markdown(request.conversation_id)
            else:
                text = json.dumps(store.export_json(request.conversation_id), indent=2, ensure_ascii=False)
            request.path.write_text(text, encoding="utf-8")
            self.exported.emit(str(request.path))

    def _ensure(
        self, store: HistoryStore, conversation_id: str, expert_role: str, use_documents: bool | None = None
    ) -> None:
        if conversation_id not in self._known:
            store.create_conversation(
                expert_role=expert_role, conversation_id=conversation_id, use_documents=use_documents
            )
            self._known.add(conversation_id)

    def _record(self, store: HistoryStore, request: RecordMessage) -> None:
        conversation_id = request.conversation_id
        self._pending.pop(conversation_id, None)
        self._taken_back.pop(conversation_id, None)  # the conversation went on: no undo of an edit
        self._ensure(store, conversation_id, request.expert_role, request.use_documents)
        store.add_message(conversation_id, "user", request.text, expert_role=request.expert_role)
        self._pending[conversation_id] = store.add_message(
            conversation_id,
            "assistant",
            "",
            expert_role=request.expert_role,
            model_ref=request.model_ref,
            rung=request.rung,
            status="pending",
        )
        self.saved.emit(store.conversation_summary(conversation_id))

    def _adopt(self, store: HistoryStore, request: AdoptTurns) -> None:
        self._ensure(store, request.conversation_id, request.expert_role)
        for role, content, model_ref, rung in request.turns:
            store.add_message(
                request.conversation_id,
                role,
                content,
                expert_role=request.expert_role,
                model_ref=model_ref,
                rung=rung,
            )
        self.saved.emit(store.conversation_summary(request.conversation_id))

    def _take_back(self, store: HistoryStore, request: TakeBack) -> None:
        conversation_id = request.conversation_id
        self._pending.pop(conversation_id, None)
        if conversation_id not in self._known:
            return
        messages = store.get_conversation(conversation_id).messages
        users = [m for m in messages if m.role == "user" and m.content]
        if request.later >= len(users):
            return
        first = users[len(users) - 1 - request.later]
        self._taken_back[conversation_id] = tuple(m for m in messages if m.position >= first.position)
        store.drop_from(conversation_id, first.id)
        self.saved.emit(store.conversation_summary(conversation_id))

    def _restore(self, store: HistoryStore, conversation_id: str) -> None:
        for m in self._taken_back.pop(conversation_id, ()):
            store.add_message(
                conversation_id,
                m.role,
                m.content,
                expert_role=m.expert_role,
                model_ref=m.model_ref,
                rung=m.rung,
                stats=m.stats,
                status=m.status,
                sources=m.sources,
            )
        self.restored.emit(store.get_conversation(conversation_id))
        self.saved.emit(store.conversation_summary(conversation_id))

    def _load(self, store: HistoryStore, conversation_id: str) -> None:
        stored = store.get_conversation(conversation_id)
        self._known.add(conversation_id)
        # A reply the user left (New chat, another conversation) is stored stopped, even before its
        # first word: its message was answered as far as the user let it. Only a reply still pending
        # (the app was killed) or none at all leaves the message unanswered.
        left = [m for m in stored.messages if m.role == "assistant" and m.status == "stopped"]
        shown = [m for m in stored.messages if m.role in ("user", "assistant") and (m.content or m in left)]
        unanswered = ""
        if shown and shown[-1].role == "user":  # the app was killed during the reply
            unanswered = shown[-1].content
            store.drop_from(conversation_id, shown[-1].id)
            stored = store.get_conversation(conversation_id)
            self.saved.emit(store.conversation_summary(conversation_id))
        self.loaded.emit(stored, unanswered)
