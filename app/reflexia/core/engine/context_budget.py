"""Fitting a conversation into the context on purpose.

A conversation longer than the context keeps its system prompt and its newest
turns; the oldest exchanges are left out, and the reply says how many. Retrieved
document text shares the same budget (``grounding.fit_grounded``). When the budget has to cut, it
cuts a little deeper than needed and remembers where, so the next few turns
keep the same prefix and reuse the KV cache instead of evaluating everything again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from reflexia.core.engine.conversation import ChatMessage
from reflexia.core.errors import GenerationError

#: A fresh cut leaves the prompt at this share of the budget: room for a few more turns.
CUT_TARGET = 0.75


@dataclass(frozen=True)
class FittedConversation:
    """The messages that go to the model, how many turns were left out, how many passages went in."""

    messages: tuple[ChatMessage, ...]
    left_out: int
    passages_used: int = 0


def reply_reserve(context_length: int, max_tokens: int) -> int:
    """Tokens kept free for the reply: the reply limit, but at most a quarter of the context."""
    return max(1, min(max_tokens, context_length // 4))


def fit_conversation(
    messages: Sequence[ChatMessage],
    count_tokens: Callable[[Sequence[ChatMessage]], int],
    budget_tokens: int,
    *,
    previous_cut: int = 0,
) -> FittedConversation:
    """Leave out the oldest turns until the prompt fits ``budget_tokens``.

    Args:
        messages: The conversation: leading system messages, then turns, the last one the user's.
        count_tokens: Tokens of the prompt these messages render to.
        budget_tokens: Tokens the prompt may take (the context less the reply's reserve).
        previous_cut: Turns the last call left out; reused while it still fits.

    Returns:
        The messages to send and the number of turns left out.

    Raises:
        GenerationError: even the system prompt and the newest message do not fit.
    """
    head = tuple(m for m in messages[: _system_prefix(messages)])
    turns = tuple(messages[len(head) :])
    if count_tokens(messages) <= budget_tokens:
        return FittedConversation(tuple(messages), 0)
    # Only cut where a user turn starts, and never the newest turn.
    cuts = [i for i in range(1, len(turns)) if turns[i].role == "user"]
    if previous_cut in cuts and count_tokens(head + turns[previous_cut:]) <= budget_tokens:
        return FittedConversation(head + turns[previous_cut:], previous_cut)
    target = int(budget_tokens * CUT_TARGET)
    fitting: int | None = None
    for cut in cuts:
        if cut < previous_cut:
            continue
        size = count_tokens(head + turns[cut:])
        if size <= budget_tokens and fitting is None:
            fitting = cut
        if size <= target:
            return FittedConversation(head + turns[cut:], cut)
    if fitting is not None:
        return FittedConversation(head + turns[fitting:], fitting)
    raise GenerationError(
        f"The newest message and the system prompt alone are longer than the {budget_tokens}-token "
        "budget of this context: shorten the message, or load the model with a longer context"
    )


def _system_prefix(messages: Sequence[ChatMessage]) -> int:
    count = 0
    while count < len(messages) - 1 and messages[count].role == "system":
        count += 1
    return count
