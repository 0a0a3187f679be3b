"""The window's conversations, kept in the history store as they happen (GUI thread).

The user's message is written before the reply is generated and the reply as
soon as it ends, so a crash (even ``kill -9``) loses at most the reply in
progress. Stopped and cut replies are kept and marked. A store that cannot be
opened leaves the app working without history, and says why.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from PySide6.QtCore import QObject, Signal, Slot

from reflexia.core.engine.conversation import ChatMessage
from reflexia.core.engine.values import GenerationResult
from reflexia.core.errors import ReflexiaError
from reflexia.core.history.records import ConversationSummary, SearchHit, StoredConversation
from reflexia.core.history.replies import reply_stats, reply_status
from reflexia.core.history.store import HistoryStore
from reflexia.services.chat_session import ChatSession, ReplyStarted
from reflexia.services.inference import InferenceService

log = logging.getLogger(__name__)


class ConversationHistory(QObject):
    """Records the chat session's turns and serves the sidebar. Lives on the GUI thread.

    Signals:
        conversations_changed(): the list changed (a new conversation, a title, a deletion).
        failed(str): a write failed; the chat goes on, the message says what was not saved.
    """

    conversations_changed = Signal()
    failed = Signal(str)

    def __init__(self, store: HistoryStore, chat: ChatSession, inference: InferenceService) -> None:
        super().__init__()
        self.store = store
        self._chat = chat
        self._inference = inference
        self._stored: set[str] = set()  # conversation ids known to the store
        self._user_message: int | None = None
        self._reply_rows: dict[str, int] = {}  # each conversation's reply being written, by its id
        chat.reply_started.connect(self._on_reply_started)
        chat.reply_finished.connect(self._on_reply_finished)
        chat.reply_failed.connect(self._on_reply_failed)
        chat.reply_left_behind.connect(self._on_reply_left_behind)

    # -- the sidebar ------------------------------------------------------
    def conversations(self) -> list[ConversationSummary]:
        """Every conversation, the most recent first."""
        return self.store.list_conversations()

    def search(self, query: str) -> list[SearchHit]:
        """Conversations matching ``query`` (full-text), each by its best hit, best first."""
        return self.store.search(query, mark=("\x02", "\x03"), per_conversation=True)

    def open(self, conversation_id: str) -> tuple[StoredConversation, str]:
        """Load a stored conversation and continue it in the chat session.

        Returns:
            The conversation, and the user's last message if it was never answered (the
            app was killed during the reply), else "". That message is taken out of the
            conversation, to be given back to the user rather than sent twice.
        """
        stored = self.store.get_conversation(conversation_id)
        # A reply the user left (New chat, another conversation) is stored stopped, even before its
        # first word: its message was answered as far as the user let it. Only a reply still pending
        # (the app was killed) or none at all leaves the message unanswered.
        left = [m for m in stored.messages if m.role == "assistant" and m.status == "stopped"]
        shown = [m for m in stored.messages if m.role in ("user", "assistant") and (m.content or m in left)]
        unanswered = ""
        if shown and shown[-1].role == "user":
            unanswered = shown[-1].content
            self.store.drop_from(conversation_id, shown[-1].id)
            stored = self.store.get_conversation(conversation_id)
        turns = [
            ChatMessage(m.role, m.content)
            for m in stored.messages
            if m.role in ("user", "assistant") and m.status in ("complete", "stopped", "cut") and m.content
        ]
        self._stored.add(conversation_id)
        self._chat.resume(conversation_id, turns)
        return stored, unanswered

    def adopt(self, session: ChatSession) -> str:
        """Store another client's conversation (the quick prompt's) so the window can continue it.

        Returns:
            Its id, the one the engine keeps its cache under.
        """
        conversation_id = session.conversation_id
        model = self._inference.model
        try:
            if conversation_id not in self._stored:
                self.store.create_conversation(expert_role=session.role_name, conversation_id=conversation_id)
                self._stored.add(conversation_id)
            for turn in session.conversation.turns:
                self.store.add_message(
                    conversation_id,
                    "user" if turn.role == "user" else "assistant",
                    turn.content,
                    expert_role=session.role_name,
                    model_ref=str(model.ref) if model and turn.role != "user" else "",
                    rung=model.quantization if model and turn.role != "user" else "",
                )
        except ReflexiaError as error:
            self.failed.emit(f"The quick prompt's conversation was not saved: {error}")
        self.conversations_changed.emit()
        return conversation_id

    def rename(self, conversation_id: str, title: str) -> None:
        """Give a conversation a title of the user's choosing."""
        self.store.rename(conversation_id, title)
        self.conversations_changed.emit()

    def delete(self, conversation_id: str) -> None:
        """Delete a conversation; :meth:`undo_delete` brings it back."""
        self.store.delete(conversation_id)
        if conversation_id == self._chat.conversation_id:
            self._chat.new_chat()
        self.conversations_changed.emit()

    def undo_delete(self, conversation_id: str) -> None:
        """Bring back a deleted conversation."""
        self.store.undo_delete(conversation_id)
        self.conversations_changed.emit()

    def export(self, conversation_id: str, form: str) -> str:
        """The conversation as Markdown (``md``) or JSON text (``json``)."""
        import json

        if form == "md":
            return self.store.export_markdown(conversation_id)
        return json.dumps(self.store.export_json(conversation_id), indent=2, ensure_ascii=False)

    def take_back_user_message(self, later: int = 0) -> None:
        """Forget one of the user's messages and all after it (it is about to be edited or regenerated).

        Args:
            later: how many of the user's messages come after it (0: the last one).
        """
        conversation_id = self._chat.conversation_id
        if conversation_id not in self._stored:
            return
        try:
            messages = self.store.get_conversation(conversation_id).messages
            users = [m for m in messages if m.role == "user" and m.content]
            if later < len(users):
                self.store.drop_from(conversation_id, users[len(users) - 1 - later].id)
        except ReflexiaError as error:
            self.failed.emit(str(error))

    # -- recording the chat -----------------------------------------------
    @Slot(object)
    def _on_reply_started(self, started: ReplyStarted) -> None:
        # The model is not known yet (a load may be queued ahead): the reply's row gets it at the end.
        conversation_id, role = started.conversation_id, started.role
        try:
            if conversation_id not in self._stored:
                self.store.create_conversation(expert_role=role, conversation_id=conversation_id)
                self._stored.add(conversation_id)
            self._user_message = self.store.add_message(
                conversation_id, "user", started.message, expert_role=role
            )
            self._reply_rows[conversation_id] = self.store.add_message(
                conversation_id, "assistant", "", expert_role=role, status="pending"
            )
        except ReflexiaError as error:
            self._user_message = None
            self._reply_rows.pop(conversation_id, None)
            self.failed.emit(f"This conversation is not being saved: {error}")
            return
        self.conversations_changed.emit()

    @Slot(object)
    def _on_reply_finished(self, result: GenerationResult) -> None:
        if not result.text and result.stats.stop_reason == "cancelled" and not self._chat.quitting:
            # Stopped before a word: the session withdrew the message too.
            self._reply_rows.pop(result.made_by.conversation_id, None)
            try:
                self.take_back_user_message()
            except ReflexiaError as error:
                self.failed.emit(f"The reply was not saved: {error}")
            self.conversations_changed.emit()
            return
        self._store_reply(result, self._chat.used_sources(result))

    @Slot(object)
    def _on_reply_left_behind(self, result: GenerationResult) -> None:
        """A reply of a conversation the user left: its text so far stays with it, marked stopped."""
        self._store_reply(result, None)

    def _store_reply(self, result: GenerationResult, sources: Sequence[Mapping[str, object]] | None) -> None:
        made_by = result.made_by
        reply = self._reply_rows.pop(made_by.conversation_id, None)
        if reply is None:
            return
        try:
            self.store.update_message(
                reply,
                content=result.text,
                status=reply_status(result),
                stats=reply_stats(result, made_by.model_name),
                sources=sources,
                model_ref=str(made_by.model) if made_by.model is not None else "",
                rung=made_by.rung,
            )
        except ReflexiaError as error:
            self.failed.emit(f"The reply was not saved: {error}")
        self.conversations_changed.emit()

    @Slot(str, str)
    def _on_reply_failed(self, _message: str, _prompt: str) -> None:
        # The message goes back to the input box: it leaves the history with its failed reply.
        self._reply_rows.pop(self._chat.conversation_id, None)
        self.take_back_user_message()
        self.conversations_changed.emit()
