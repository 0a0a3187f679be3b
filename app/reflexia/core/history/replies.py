"""How a finished reply is recorded: its status and the stats kept with it (the window and the CLI)."""

from __future__ import annotations

from reflexia.core.engine.values import GenerationResult
from reflexia.core.history.records import MessageStatus

_STATUS: dict[str, MessageStatus] = {
    "cancelled": "stopped",
    "length": "cut",
    "context_full": "cut",
    "eos": "complete",
}


def reply_status(result: GenerationResult) -> MessageStatus:
    """``complete``, ``stopped`` by the user, or ``cut`` by a length or context limit."""
    return _STATUS[result.stats.stop_reason]


def reply_stats(result: GenerationResult, model_name: str) -> dict[str, object]:
    """The figures kept with a reply (shown under it when the conversation is opened again)."""
    stats = result.stats
    return {
        "completion_tokens": stats.completion_tokens,
        "prompt_tokens": stats.prompt_tokens,
        "tokens_per_s": round(stats.tokens_per_s, 2),
        "ttft_s": round(stats.ttft_s, 4),
        "stop_reason": stats.stop_reason,
        "left_out_messages": stats.left_out_messages,
        "from_cache": result.from_cache,
        "model": model_name,
    }
