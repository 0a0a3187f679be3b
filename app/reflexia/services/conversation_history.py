"""The window's conversations, kept in the history store as they happen.

The user's message is written as the reply starts and the reply as soon as it ends, so a crash
(even ``kill -9``) loses at most the reply in progress. Stopped and cut replies are kept and
marked. The store lives on its own thread (:mod:`history_worker`): this object, on the GUI
thread, sends it requests and keeps the sidebar's models. A store that cannot be opened leaves
the app working without history, and says why.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEventLoop, QObject, QThread, Signal, Slot

from reflexia.core.engine.conversation import ChatMessage
from reflexia.core.engine.values import GenerationResult
from reflexia.core.history.records import ConversationSummary, MessageRole, SearchHit, StoredConversation
from reflexia.core.history.replies import reply_stats, reply_status
from reflexia.core.history.store import HistoryStore
from reflexia.services.chat_session import ChatOptions, ChatSession, ReplyStarted
from reflexia.services.conversation_list import ConversationListModel, SearchHitsModel
from reflexia.services.history_worker import (
    AdoptTurns,
    Close,
    Delete,
    Export,
    FinishReply,
    HistoryWorker,
    Load,
    OpenStore,
    RecordMessage,
    Relist,
    Rename,
    Request,
    RestoreTakenBack,
    Search,
    SetOptions,
    TakeBack,
)
from reflexia.services.inference import InferenceService

SHUTDOWN_WAIT_MS = 15_000  # a last write may wait 5 s for another process, and one more after it


def _turns(stored: StoredConversation) -> list[ChatMessage]:
    """What the model is shown of a stored conversation: the finished turns with text."""
    return [
        ChatMessage(m.role, m.content)
        for m in stored.messages
        if m.role in ("user", "assistant") and m.status in ("complete", "stopped", "cut") and m.content
    ]


class ConversationHistory(QObject):
    """Records the chat session's turns and serves the sidebar. Lives on the GUI thread.

    Signals:
        unavailable(str): the store could not be opened; the chat goes on without history.
        failed(str): a request failed; the chat goes on, the message says what was not done.
        loaded(object, str): a conversation to continue (StoredConversation) and the user's
            unanswered last message ("" if none); the chat session already continues it.
        restored(object): the conversation (StoredConversation) with the turns an edit took back.
        exported(str): a conversation was written to this path.
        searched(): :attr:`hits` holds the answer to the latest search.
    """

    unavailable = Signal(str)
    failed = Signal(str)
    loaded = Signal(object, str)
    restored = Signal(object)
    exported = Signal(str)
    searched = Signal()
    _requested = Signal(object)

    def __init__(self, path: Path, chat: ChatSession, inference: InferenceService) -> None:
        super().__init__()
        self.path = path
        self.available = True  # until the store says it cannot be opened
        self.conversations = ConversationListModel()
        self.hits = SearchHitsModel()
        self._chat = chat
        self._inference = inference
        self._unanswered = 0  # requests sent and not yet handled
        self._search_ticket = 0
        self._inspector: HistoryStore | None = None
        self._thread = QThread()
        self._thread.setObjectName("history")
        self._worker = HistoryWorker()
        self._worker.moveToThread(self._thread)
        # Connect after moveToThread so that requests are queued onto the history thread.
        self._requested.connect(self._worker.run)
        self._worker.opened.connect(self._on_opened)
        self._worker.saved.connect(self._on_saved)
        self._worker.removed.connect(self._on_removed)
        self._worker.found.connect(self._on_found)
        self._worker.loaded.connect(self._on_loaded)
        self._worker.restored.connect(self.restored)
        self._worker.exported.connect(self.exported)
        self._worker.failed.connect(self._on_failed)
        self._worker.done.connect(self._on_done)
        chat.reply_started.connect(self._on_reply_started)
        chat.reply_finished.connect(self._on_reply_finished)
        chat.reply_failed.connect(self._on_reply_failed)
        chat.reply_left_behind.connect(self._on_reply_left_behind)
        chat.options_changed.connect(self._on_options_changed)
        self._thread.start()
        self._send(OpenStore(path))  # the migration of an old store runs there too

    def _send(self, request: Request) -> None:
        self._unanswered += 1
        self._requested.emit(request)

    # -- what the window asks ------------------------------------------------
    def search(self, query: str) -> None:
        """Find conversations matching ``query``; :attr:`hits` changes when the answer comes."""
        self._search_ticket += 1
        self._send(Search(self._search_ticket, query))

    def relist(self) -> None:
        """Read the whole list again (the sidebar's Refresh): what other processes added shows up."""
        self._send(Relist())

    def open(self, conversation_id: str) -> None:
        """Continue a stored conversation: ``loaded`` follows, once the chat session has it."""
        self._send(Load(conversation_id))

    def adopt(self, session: ChatSession) -> str:
        """Store another client's conversation (the quick prompt's) so the window can continue it.

        Returns:
            Its id, the one the engine keeps its cache under.
        """
        model = self._inference.model
        turns: list[tuple[MessageRole, str, str, str]] = []
        for turn in session.conversation.turns:
            if turn.role == "user":
                turns.append(("user", turn.content, "", ""))
            else:
                turns.append(
                    (
                        "assistant",
                        turn.content,
                        str(model.ref) if model else "",
                        model.quantization if model else "",
                    )
                )
        self._send(AdoptTurns(session.conversation_id, session.role_name, tuple(turns)))
        return session.conversation_id

    def rename(self, conversation_id: str, title: str) -> None:
        """Give a conversation a title of the user's choosing."""
        self._send(Rename(conversation_id, title))

    def delete(self, conversation_id: str) -> None:
        """Delete a conversation; :meth:`undo_delete` brings it back."""
        self._send(Delete(conversation_id))
        if conversation_id == self._chat.conversation_id:
            self._chat.new_chat()

    @Slot(str)
    def undo_delete(self, conversation_id: str) -> None:
        """Bring back a deleted conversation."""
        self._send(Delete(conversation_id, undo=True))

    def export(self, conversation_id: str, form: str, path: Path) -> None:
        """Write the conversation to ``path`` as Markdown (``md``) or JSON (``json``)."""
        self._send(Export(conversation_id, form, path))

    def take_back_user_message(self, later: int = 0) -> None:
        """Forget one of the user's messages and all after it (it is about to be edited or regenerated).

        Args:
            later: how many of the user's messages come after it (0: the last one).
        """
        self._send(TakeBack(self._chat.conversation_id, later))

    def undo_take_back(self, conversation_id: str) -> None:
        """Store again what the last :meth:`take_back_user_message` dropped; ``restored`` follows."""
        self._send(RestoreTakenBack(conversation_id))

    # -- tests, benchmarks and shutdown ----------------------------------------
    def settle(self, timeout_s: float = 10.0) -> bool:
        """Process events until every request sent so far is handled; False on timeout.

        For tests and benchmarks (and shutdown): the window itself never waits for the history.
        """
        deadline = time.monotonic() + timeout_s
        while self._unanswered and time.monotonic() < deadline:
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 10)
        return not self._unanswered

    @property
    def store(self) -> HistoryStore:
        """A connection of the GUI thread's own, to inspect what is saved once the requests are done.

        For tests: the app's own reads and writes go through the history thread.
        """
        self.settle()
        if self._inspector is None:
            self._inspector = HistoryStore(self.path)
        return self._inspector

    def shutdown(self) -> None:
        """Let the history thread finish what it was asked, close its store and end."""
        if self._thread.isRunning():
            self._send(Close())
            self._thread.wait(SHUTDOWN_WAIT_MS)
        if self._inspector is not None:
            self._inspector.close()
            self._inspector = None

    # -- answers from the history thread ----------------------------------------
    @Slot()
    def _on_done(self) -> None:
        self._unanswered -= 1

    @Slot(list)
    def _on_opened(self, summaries: list[ConversationSummary]) -> None:
        self.conversations.reset(summaries)

    @Slot(object)
    def _on_saved(self, summary: ConversationSummary) -> None:
        self.conversations.put(summary)

    @Slot(str)
    def _on_removed(self, conversation_id: str) -> None:
        self.conversations.remove(conversation_id)
        self.hits.forget(conversation_id)

    @Slot(int, list)
    def _on_found(self, ticket: int, hits: list[SearchHit]) -> None:
        if ticket == self._search_ticket:  # an older search answered late is not shown
            self.hits.show(hits)
            self.searched.emit()

    @Slot(object, str)
    def _on_loaded(self, stored: StoredConversation, unanswered: str) -> None:
        if self._chat.is_replying:  # the user sent a message meanwhile: that chat goes on
            return
        self._chat.resume(stored.id, _turns(stored))
        self.loaded.emit(stored, unanswered)

    @Slot(object, str)
    def _on_failed(self, request: Request, message: str) -> None:
        if isinstance(request, OpenStore):
            self.available = False
            self.unavailable.emit(message)
        elif isinstance(request, Search):
            if request.ticket == self._search_ticket:
                self.hits.show([])
            self.failed.emit(message)
        else:
            self.failed.emit(message)

    # -- recording the chat -----------------------------------------------------
    @Slot(object)
    def _on_reply_started(self, started: ReplyStarted) -> None:
        # The model is not known yet (a load may be queued ahead): the reply's row gets it at the end.
        record = RecordMessage(
            started.conversation_id, started.message, started.role, "", "", started.use_documents
        )
        self._send(record)

    @Slot(object)
    def _on_reply_finished(self, result: GenerationResult) -> None:
        chat = self._chat
        if not result.text and result.stats.stop_reason == "cancelled" and not chat.quitting:
            # Stopped before a word: the session withdrew the message too.
            self.take_back_user_message()
            return
        self._finish(result, chat.used_sources(result))

    @Slot(object)
    def _on_reply_left_behind(self, result: GenerationResult) -> None:
        """A reply of a conversation the user left: its text so far stays with it, marked stopped."""
        self._finish(result, None)

    def _finish(self, result: GenerationResult, sources: Sequence[Mapping[str, object]] | None) -> None:
        made_by = result.made_by  # what made the reply, not what is loaded now
        self._send(
            FinishReply(
                made_by.conversation_id,
                result.text,
                reply_status(result),
                reply_stats(result, made_by.model_name),
                sources,
                str(made_by.model) if made_by.model is not None else "",
                made_by.rung,
            )
        )

    @Slot(str, str)
    def _on_reply_failed(self, _message: str, _prompt: str) -> None:
        # The message goes back to the input box: it leaves the history with its failed reply.
        self.take_back_user_message()

    @Slot(object)
    def _on_options_changed(self, options: ChatOptions) -> None:
        """Keep the role and documents switch with the conversation, to restore them when it is opened."""
        self._send(SetOptions(options.conversation_id, options.role, options.use_documents))
