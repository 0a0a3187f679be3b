"""Retrieved document passages given to the model with the newest message.

The passages go into the newest user message, not the system prompt: the earlier
conversation keeps its exact tokens, so the KV cache is reused up to that message.
Only the message sent to the model is grounded; the conversation keeps what the user
typed. When the search found nothing relevant, the model is told so, and told to say
so rather than answer as if from the documents.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from reflexia.core.engine.context_budget import FittedConversation, fit_conversation
from reflexia.core.engine.conversation import ChatMessage
from reflexia.core.engine.values import Passage

#: Passages and the question take at most this share of the prompt budget: the rest is the conversation's.
PASSAGE_SHARE = 0.6

_INSTRUCTION = (
    "Answer the question from these passages of the user's documents. "
    "If they do not answer it, say that the documents do not say."
)
_NOTHING_FOUND = (
    "Nothing in the user's documents matched this question. If it is about their documents, "
    "say that nothing relevant was found in them; do not make up sources."
)


def grounded_text(question: str, passages: Sequence[Passage]) -> str:
    """The newest message as the model sees it: the passages, numbered, then the question."""
    if not passages:
        return f"{_NOTHING_FOUND}\n\nQuestion: {question}"
    parts = [_INSTRUCTION, ""]
    for number, passage in enumerate(passages, 1):
        parts += [f"[{number}] {passage.source}", passage.text.strip(), ""]
    parts.append(f"Question: {question}")
    return "\n".join(parts)


def grounded_messages(
    messages: Sequence[ChatMessage], passages: Sequence[Passage] | None
) -> tuple[ChatMessage, ...]:
    """The conversation with its newest message grounded (unchanged when ``passages`` is None)."""
    if passages is None or not messages or messages[-1].role != "user":
        return tuple(messages)
    return (*messages[:-1], ChatMessage("user", grounded_text(messages[-1].content, passages)))


def fit_grounded(
    messages: Sequence[ChatMessage],
    passages: Sequence[Passage] | None,
    count_tokens: Callable[[Sequence[ChatMessage]], int],
    budget_tokens: int,
    *,
    previous_cut: int = 0,
) -> FittedConversation:
    """Fit the grounded conversation into ``budget_tokens``.

    The best passages that fit within ``PASSAGE_SHARE`` of the budget (with the system
    prompt and the question) are kept, the lowest-ranked dropped first; then the oldest
    turns are left out as :func:`fit_conversation` does. ``passages_used`` says how many
    of the passages (the first ones) went to the model.
    """
    if passages is None:
        return fit_conversation(messages, count_tokens, budget_tokens, previous_cut=previous_cut)
    head = tuple(m for m in messages[:-1] if m.role == "system")
    used = len(passages)
    while used > 1:
        newest = grounded_messages(messages[-1:], passages[:used])
        if count_tokens(head + newest) <= budget_tokens * PASSAGE_SHARE:
            break
        used -= 1
    fitted = fit_conversation(
        grounded_messages(messages, passages[:used]), count_tokens, budget_tokens, previous_cut=previous_cut
    )
    return FittedConversation(fitted.messages, fitted.left_out, used)
