"""One conversation of the window on top of the shared inference service (GUI thread)."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, replace

from PySide6.QtCore import QObject, Signal, Slot

from reflexia.core.config.settings import Role
from reflexia.core.engine.conversation import ChatMessage, Conversation
from reflexia.core.engine.values import (
    GenerationRequest,
    GenerationResult,
    GenerationStats,
    Passage,
    Provenance,
    SamplingParams,
)
from reflexia.core.errors import ReflexiaError
from reflexia.core.rag.values import DEFAULT_COLLECTION, SearchHit, passage_of
from reflexia.core.roles.library import sampling_for
from reflexia.services.documents import DocumentsService
from reflexia.services.inference import InferenceService

log = logging.getLogger(__name__)


def _nothing_generated(conversation_id: str = "", role: str = "") -> GenerationResult:
    stats = GenerationStats(0, 0, 0, 0.0, 0.0, 0.0, 0.0, "cancelled")
    return GenerationResult("", stats, made_by=Provenance(conversation_id, role))


@dataclass(frozen=True)
class ReplyStarted:
    """The user's message was accepted: which conversation, what was said, with which role."""

    conversation_id: str
    message: str
    role: str
    use_documents: bool = False  # answered from the documents


@dataclass(frozen=True)
class ChatOptions:
    """What a conversation is answered with: its role and whether the documents are searched."""

    conversation_id: str
    role: str
    use_documents: bool


class ChatSession(QObject):
    """Keeps one conversation and turns the user's messages into replies.

    A client of the shared request queue: while another client's reply runs, the
    message waits its turn (``reply_waiting``). A stopped reply keeps the text
    produced so far, as in other chat apps; a failed one is withdrawn together
    with its prompt, which goes back to the input box so nothing typed is lost.

    With documents on, each message is first looked up in the chosen collection
    (on the documents thread); the passages found go to the model with it, and
    ``reply_sources`` says which, for the window and the history.

    Signals:
        reply_started(ReplyStarted): the user's message was accepted (its documents may still be
            searched, and it may still wait its turn).
        reply_waiting(int): the reply waits behind other requests; its place (1 = next).
        reply_running(): the model began answering.
        reply_token(str): the next piece of the reply.
        reply_finished(GenerationResult): the reply ended (by EOS, length or stop).
        reply_failed(str, str): the error message and the prompt to give back to the user.
        reply_left_behind(GenerationResult): a reply of a conversation the user left (New chat,
            opening another) ended; its text so far belongs to that conversation, not the window.
        conversation_changed(tuple[ChatMessage, ...]): the messages after a reply or a new chat.
        options_changed(ChatOptions): the conversation's role or documents switch changed (it
            belongs to the conversation and is stored with it).
    """

    reply_started = Signal(object)
    reply_waiting = Signal(int)
    reply_running = Signal()
    reply_token = Signal(str)
    reply_finished = Signal(object)
    reply_failed = Signal(str, str)
    reply_left_behind = Signal(object)
    conversation_changed = Signal(object)
    options_changed = Signal(object)

    def __init__(
        self,
        inference: InferenceService,
        sampling: SamplingParams,
        system_prompt: str = "",
        *,
        client: str = "window",
        log_content: bool = False,
        documents: DocumentsService | None = None,
    ) -> None:
        super().__init__()
        self._log_content = log_content  # prompts reach the log only when the user asked for it
        self._inference = inference
        self._sampling = self._defaults = sampling
        self._client = client
        self.conversation = Conversation(system_prompt=system_prompt)
        self.conversation_id = uuid.uuid4().hex
        self._role: Role | None = None
        self.role_name = ""  # the expert role in force (see set_role)
        self.reply_role = ""  # the role the reply in progress (or the last one) was made with
        self._request_id: int | None = None
        self._left_behind: dict[int, Provenance] = {}  # replies of conversations the user left
        self._documents = documents
        self.documents_on = False  # search the documents for this chat's messages
        self.collection = DEFAULT_COLLECTION
        self._search: int | None = None  # the documents search of the message being answered
        self.reply_sources: tuple[SearchHit, ...] | None = None  # found for the reply; None: not searched
        self.search_problem = ""  # why the documents could not be searched for the reply, if so
        self.quitting = False  # the app quits: a stopped reply's message is kept (see stop_for_quit)
        if documents is not None:
            documents.found.connect(self._on_found)
            documents.search_failed.connect(self._on_search_failed)
        inference.request_queued.connect(self._on_queued)
        inference.request_dropped.connect(self._on_dropped)
        inference.generation_started.connect(self._on_started)
        inference.token_generated.connect(self._on_token)
        inference.generation_finished.connect(self._on_finished)
        inference.generation_failed.connect(self._on_failed)

    @property
    def is_replying(self) -> bool:
        """True from send() until the reply finished or failed."""
        return self._request_id is not None or self._search is not None

    @property
    def request_id(self) -> int | None:
        """The id of the reply in progress, if any."""
        return self._request_id

    @Slot(object)
    def set_role(self, role: Role) -> None:
        """Use an expert role from the next reply on (a reply in progress keeps the role it began with)."""
        self._role = role
        self.role_name = role.name
        self.conversation.system_prompt = role.system_prompt
        self._sampling = sampling_for(role, self._defaults)
        self.set_documents(role.use_documents)

    def used_sources(self, result: GenerationResult) -> list[dict[str, object]] | None:
        """The passages the reply drew on, as the history keeps them; [] when nothing relevant was found."""
        if self.reply_sources is None:
            return None
        return [hit.to_json_dict() for hit in self.reply_sources[: result.stats.passages_used]]

    def set_documents(self, on: bool, collection: str | None = None) -> None:
        """Ground this chat's next replies in a collection of documents, or stop doing so."""
        self.documents_on = on and self._documents is not None
        if collection:
            self.collection = collection
        if self._documents is not None:
            self._documents.note_in_use(self._client, self.documents_on)
        self.options_changed.emit(ChatOptions(self.conversation_id, self.role_name, self.documents_on))

    def set_defaults(self, sampling: SamplingParams, *, log_content: bool) -> None:
        """New sampling defaults from the settings (the role's own values still win), from the next reply."""
        self._defaults = sampling
        self._sampling = sampling_for(self._role, sampling) if self._role is not None else sampling
        self._log_content = log_content

    def send(self, text: str) -> bool:
        """Ask the model to answer ``text``; False if the service refused (it says why)."""
        text = text.strip()
        if not text or self.is_replying or not self._inference.can_generate():
            return False
        self.conversation.add_user(text)
        self.reply_role = self.role_name
        self.reply_sources, self.search_problem = None, ""
        started = ReplyStarted(self.conversation_id, text, self.role_name, self.documents_on)
        if self.documents_on and self._documents is not None:
            self._search = self._documents.search(text, self.collection)
            self.reply_started.emit(started)
            return True
        if not self._submit(None):
            self.conversation.drop_last_user()
            return False
        self.reply_started.emit(started)
        return True

    def _submit(self, passages: tuple[Passage, ...] | None) -> bool:
        request = GenerationRequest(
            self.conversation.messages(),
            self._sampling,
            self.conversation_id,
            passages=passages,
            role=self.role_name,
        )
        request_id = self._inference.submit(request, self._client)
        if request_id is None:
            return False
        self._request_id = request_id
        if self._log_content:
            log.debug("prompt of request %d: %s", request_id, request.messages[-1].content)
        return True

    @Slot(int, object)
    def _on_found(self, ticket: int, hits: list[SearchHit]) -> None:
        if ticket != self._search:
            return
        self._search = None
        self.reply_sources = tuple(hits)
        self._submit_after_search(tuple(passage_of(hit) for hit in hits))

    @Slot(int, str)
    def _on_search_failed(self, ticket: int, message: str) -> None:
        if ticket != self._search:
            return
        self._search = None
        self.search_problem = message  # the reply is made without documents, and says why
        self._submit_after_search(None)

    def _submit_after_search(self, passages: tuple[Passage, ...] | None) -> None:
        if not self._submit(passages):  # the model went away while the documents were searched
            prompt = self.conversation.drop_last_user()
            self.reply_failed.emit("No model is loaded: pick one in the model menu first", prompt)

    def stop(self) -> None:
        """Stop this conversation's reply (running or waiting); other clients' replies go on."""
        if self._search is not None:
            self._search = None  # its passages are not wanted any more
            if not self.quitting:
                self.conversation.drop_last_user()
            self.reply_finished.emit(_nothing_generated())
            self.conversation_changed.emit(self.conversation.messages())
            return
        self._inference.stop(self._request_id)

    def stop_for_quit(self) -> None:
        """Stop the reply because the app quits: the user's message stays, even with no reply yet.

        A Stop click before the first word gives the message back to the input box; at quit
        there is no input box, so the message is kept (in the history it comes back to the
        input box when the conversation is opened again).
        """
        self.quitting = True
        self.stop()

    def _leave_reply_behind(self) -> None:
        """The user leaves this conversation: its reply is stopped and, when it ends, kept with it."""
        left = Provenance(self.conversation_id, self.reply_role)
        if self._request_id is not None:
            self._inference.stop(self._request_id)
            self._left_behind[self._request_id] = left
        elif self._search is not None:  # its documents were still being searched: nothing was said
            self.reply_left_behind.emit(_nothing_generated(left.conversation_id, left.role))
        self._request_id = self._search = None  # what they still send belongs to the old conversation

    def new_chat(self, system_prompt: str | None = None) -> None:
        """Start a new conversation; a reply still running is stopped and never lands in it."""
        self._leave_reply_behind()
        # The old conversation's KV cache stays with the engine (within its bound): it may be resumed.
        self.conversation.clear()
        self.conversation_id = uuid.uuid4().hex
        if system_prompt is not None:
            self.conversation.system_prompt = system_prompt
        # The documents switch is the conversation's: a new one starts from what its role says.
        self.set_documents(self._role.use_documents if self._role is not None else False)
        self.conversation_changed.emit(self.conversation.messages())

    def resume(self, conversation_id: str, turns: list[ChatMessage]) -> None:
        """Continue a stored conversation (the engine reuses its cache if it still has it)."""
        self._leave_reply_behind()
        self.conversation.turns = list(turns)
        self.conversation_id = conversation_id
        self.conversation_changed.emit(self.conversation.messages())

    def take_back_user_message(self, later: int = 0) -> str:
        """Remove one of the user's messages and every turn after it (to edit or regenerate it).

        Args:
            later: how many of the user's messages come after it (0: the last one).

        Returns:
            The message taken back; empty while a reply is running or if there is no such message.
        """
        if self.is_replying:
            return ""
        turns = self.conversation.turns
        users = [i for i, turn in enumerate(turns) if turn.role == "user"]
        if later >= len(users):
            return ""
        first = users[len(users) - 1 - later]
        text = turns[first].content
        del turns[first:]
        return text

    def can_regenerate(self) -> bool:
        """Whether the last exchange can be answered again now (if not, the service says why).

        Asked before anything is taken back: without a model, Regenerate used to destroy the
        last exchange and then fail to send it again.
        """
        has_message = any(turn.role == "user" for turn in self.conversation.turns)
        return has_message and not self.is_replying and self._inference.can_generate()

    def regenerate(self) -> bool:
        """Answer the last user message again (the previous reply is replaced)."""
        if not self.can_regenerate():
            return False
        text = self.take_back_user_message()
        return bool(text) and self.send(text)

    @Slot(int, int)
    def _on_queued(self, request_id: int, place: int) -> None:
        if request_id == self._request_id:
            self.reply_waiting.emit(place)

    @Slot(int)
    def _on_started(self, request_id: int) -> None:
        if request_id == self._request_id:
            self.reply_running.emit()

    @Slot(int, str)
    def _on_token(self, request_id: int, text: str) -> None:
        if request_id == self._request_id:
            self.reply_token.emit(text)

    @Slot(int, str)
    def _on_dropped(self, request_id: int, _reason: str) -> None:
        if request_id == self._request_id or request_id in self._left_behind:
            self._on_finished(request_id, _nothing_generated())

    @Slot(int, object)
    def _on_finished(self, request_id: int, result: GenerationResult) -> None:
        if (left := self._left_behind.pop(request_id, None)) is not None:
            made_by = result.made_by if result.made_by.conversation_id else left
            self.reply_left_behind.emit(replace(result, made_by=made_by))
            return
        if request_id != self._request_id:
            return
        self._request_id = None
        if not result.made_by.conversation_id:  # never reached the engine (dropped while waiting)
            result = replace(result, made_by=Provenance(self.conversation_id, self.reply_role))
        if result.text or result.stats.stop_reason != "cancelled":
            self.conversation.add_assistant(result.text)
        elif not self.quitting:
            self.conversation.drop_last_user()
        self.reply_finished.emit(result)
        self.conversation_changed.emit(self.conversation.messages())

    @Slot(int, object)
    def _on_failed(self, request_id: int, error: ReflexiaError) -> None:
        if (left := self._left_behind.pop(request_id, None)) is not None:
            self.reply_left_behind.emit(_nothing_generated(left.conversation_id, left.role))
            return
        if request_id != self._request_id:
            return
        self._request_id = None
        prompt = self.conversation.drop_last_user()
        self.reply_failed.emit(str(error), prompt)
