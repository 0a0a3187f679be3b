"""One conversation on top of the shared inference service (GUI thread)."""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal, Slot

from reflexia.core.engine.backend import GenerationRequest, GenerationResult, SamplingParams
from reflexia.core.engine.conversation import Conversation
from reflexia.core.errors import ReflexiaError
from reflexia.services.inference import InferenceService

log = logging.getLogger(__name__)


class ChatSession(QObject):
    """Keeps the conversation and turns the user's messages into replies.

    A stopped reply keeps the text produced so far, as in other chat apps; a
    failed one is withdrawn together with its prompt, which goes back to the
    input box so nothing the user typed is lost.

    Signals:
        reply_started(): the model began answering.
        reply_token(str): the next piece of the reply.
        reply_finished(GenerationResult): the reply ended (by EOS, length or stop).
        reply_failed(str, str): the error message and the prompt to give back to the user.
    """

    reply_started = Signal()
    reply_token = Signal(str)
    reply_finished = Signal(object)
    reply_failed = Signal(str, str)

    def __init__(
        self,
        inference: InferenceService,
        sampling: SamplingParams,
        system_prompt: str = "",
        *,
        log_content: bool = False,
    ) -> None:
        super().__init__()
        self._log_content = log_content  # prompts reach the log only when the user asked for it
        self._inference = inference
        self._sampling = sampling
        self.conversation = Conversation(system_prompt=system_prompt)
        self._request_id: int | None = None
        inference.token_generated.connect(self._on_token)
        inference.generation_finished.connect(self._on_finished)
        inference.generation_failed.connect(self._on_failed)

    @property
    def is_replying(self) -> bool:
        """True from send() until the reply finished or failed."""
        return self._request_id is not None

    def send(self, text: str) -> bool:
        """Ask the model to answer ``text``; False if the service refused (it says why)."""
        text = text.strip()
        if not text or self._request_id is not None:
            return False
        self.conversation.add_user(text)
        request = GenerationRequest(self.conversation.messages(), self._sampling)
        request_id = self._inference.generate(request)
        if request_id is None:
            self.conversation.drop_last_user()
            return False
        self._request_id = request_id
        if self._log_content:
            log.debug("prompt of request %d: %s", request_id, text)
        self.reply_started.emit()
        return True

    def stop(self) -> None:
        """Stop the reply being generated."""
        if self._request_id is not None:
            self._inference.stop()

    def new_chat(self, system_prompt: str | None = None) -> None:
        """Forget the conversation (stopping any reply)."""
        self.stop()
        self.conversation.clear()
        if system_prompt is not None:
            self.conversation.system_prompt = system_prompt

    @Slot(int, str)
    def _on_token(self, request_id: int, text: str) -> None:
        if request_id == self._request_id:
            self.reply_token.emit(text)

    @Slot(int, object)
    def _on_finished(self, request_id: int, result: GenerationResult) -> None:
        if request_id != self._request_id:
            return
        self._request_id = None
        if result.text or result.stats.stop_reason != "cancelled":
            self.conversation.add_assistant(result.text)
        else:
            self.conversation.drop_last_user()
        self.reply_finished.emit(result)

    @Slot(int, object)
    def _on_failed(self, request_id: int, error: ReflexiaError) -> None:
        if request_id != self._request_id:
            return
        self._request_id = None
        prompt = self.conversation.drop_last_user()
        self.reply_failed.emit(str(error), prompt)
