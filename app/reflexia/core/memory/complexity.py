"""How demanding a conversation is: the governor may pick a higher rung for it."""

from __future__ import annotations

import re

_CODE_LINE = re.compile(
    r"^\s*(?:def |class |import |from \S+ import |#include|function |const |let |var |fn |public |return\b)",
    re.MULTILINE,
)
_MATH = re.compile(
    r"\$\$|\\\(|\\\[|\\(?:frac|sum|int|sqrt|lim|prod|partial|begin\{(?:equation|align))"
    r"|[∑∫√∂∞≤≥≠≈∈∀∃∇]|\b[a-zA-Z]\^\d"
)


def complexity_of(
    messages_text: str, context_tokens: int, context_length: int, has_retrieved_context: bool
) -> float:
    """How demanding the conversation is for the model, from 0 to 1.

    A sum of weights, capped at 1: code (a fence or three code-like lines) 0.4, math
    (LaTeX or math symbols) 0.3, the share of the context window in use times 0.4, and
    retrieved document passages 0.25. No single signal passes the 0.5 at which the
    governor considers an early step up; two together do.

    Args:
        messages_text: The conversation's text.
        context_tokens: Tokens the conversation takes.
        context_length: Tokens the context window holds.
        has_retrieved_context: Whether document passages were added to the prompt.

    Returns:
        The complexity score.
    """
    score = 0.0
    if "```" in messages_text or len(_CODE_LINE.findall(messages_text)) >= 3:
        score += 0.4
    if _MATH.search(messages_text):
        score += 0.3
    if context_length > 0:
        score += 0.4 * min(1.0, max(0.0, context_tokens / context_length))
    if has_retrieved_context:
        score += 0.25
    return min(1.0, score)
