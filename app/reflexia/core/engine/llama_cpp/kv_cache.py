"""The KV cache belongs to a conversation.

One llama.cpp context holds one conversation's keys and values at a time. This
module keeps, in one object, everything that describes that cache (which
conversation, its tokens, the prompt segments that spell them, how many turns
the context budget left out) and the saved states of a few recent conversations,
so switching between the window and the quick prompt restores a state instead
of evaluating a whole history again. Everything is reset together on a load.
"""

from __future__ import annotations

import ctypes
import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import llama_cpp

log = logging.getLogger(__name__)


@dataclass
class CacheContents:
    """What the context's KV cache holds now.

    Attributes:
        conversation_id: Whose cache it is ("" for one-off requests).
        tokens: Tokens whose keys and values are in the cache, in order.
        segments: (text, token count) pieces that spell ``tokens`` exactly: prompt parts
            and replies, so the next turn reuses their tokens without re-tokenizing.
        left_out: Oldest turns the context budget left out, kept so that later turns cut
            at the same place and the cached prefix stays valid.
    """

    conversation_id: str = ""
    tokens: list[int] = field(default_factory=list)
    segments: list[tuple[str, int]] = field(default_factory=list)
    left_out: int = 0


@dataclass
class _SavedConversation:
    contents: CacheContents
    state: Any  # ctypes uint8 array: llama.cpp's serialized sequence
    size: int


class ConversationCache:
    """The context's cache contents plus saved states of recent conversations.

    Not thread-safe: the backend's owning thread uses it.
    """

    def __init__(self, max_saved: int, max_saved_bytes: int = 0) -> None:
        self.active = CacheContents()
        self._max_saved = max_saved
        self._max_saved_bytes = max_saved_bytes
        self._saved: OrderedDict[str, _SavedConversation] = OrderedDict()

    @property
    def saved_bytes(self) -> int:
        """Bytes held by saved conversation states."""
        return sum(s.size for s in self._saved.values())

    @property
    def saved_conversations(self) -> tuple[str, ...]:
        """Ids of the conversations whose state is saved, oldest first."""
        return tuple(self._saved)

    def reset(self, max_saved_bytes: int | None = None) -> None:
        """Forget everything (a model was loaded or unloaded: old states mean nothing now)."""
        self.active = CacheContents()
        self._saved.clear()
        if max_saved_bytes is not None:
            self._max_saved_bytes = max_saved_bytes

    def forget(self, conversation_id: str) -> None:
        """Drop what is kept for one conversation (it was deleted or started over)."""
        self._saved.pop(conversation_id, None)
        if self.active.conversation_id == conversation_id:
            self.active = CacheContents(conversation_id)

    def switch_to(self, ctx: Any, conversation_id: str) -> bool:
        """Make ``conversation_id``'s cache the active one; True if a saved state was restored.

        The outgoing conversation's state is saved first (within the byte bound), the
        context's memory is cleared, and the incoming one is restored if it was saved.
        """
        if conversation_id == self.active.conversation_id:
            return False
        self._save_active(ctx)
        memory = llama_cpp.llama_get_memory(ctx)
        llama_cpp.llama_memory_clear(memory, True)
        saved = self._saved.pop(conversation_id, None)
        if saved is not None:
            if llama_cpp.llama_state_seq_set_data(ctx, saved.state, saved.size, 0) == saved.size:
                self.active = saved.contents
                return True
            log.warning(
                "could not restore the cache of conversation %s; evaluating it again", conversation_id
            )
            llama_cpp.llama_memory_clear(memory, True)
        self.active = CacheContents(conversation_id)
        return False

    def _save_active(self, ctx: Any) -> None:
        active = self.active
        if not active.tokens or self._max_saved == 0:
            return
        size = llama_cpp.llama_state_seq_get_size(ctx, 0)
        if size <= 0 or size > self._max_saved_bytes:
            return
        state = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_seq_get_data(ctx, state, size, 0)
        if written != size:
            return
        self._saved[active.conversation_id] = _SavedConversation(active, state, size)
        self._saved.move_to_end(active.conversation_id)
        # The oldest go first, by count and by bytes.
        while len(self._saved) > self._max_saved or self.saved_bytes > self._max_saved_bytes:
            self._saved.popitem(last=False)
