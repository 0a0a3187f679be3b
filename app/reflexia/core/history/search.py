"""Full-text search over conversation titles and messages (SQLite FTS5)."""

from __future__ import annotations

import sqlite3

from reflexia.core.history.records import SearchHit

#: Marks around each matching word in a snippet unless the caller asks for others (Markdown bold).
DEFAULT_MARK = ("**", "**")
SNIPPET_WORDS = 16
TITLE_WEIGHT = 2.0  # a word in the title says more about a conversation than one in a long reply


def match_expression(query: str) -> str | None:
    """The user's words as a safe FTS5 query; None when there is no word to look for.

    Each whitespace-separated term becomes a quoted phrase (so ``AND``, ``NEAR``, ``*``,
    quotes and brackets are plain text, never query syntax) matched as a word prefix
    (``quant`` finds *quantization*, as a user typing into a search box expects). All
    terms must match. Terms without a letter or digit are dropped: FTS5 ignores them anyway.
    """
    terms = [term for term in query.split() if any(ch.isalnum() for ch in term)]
    if not terms:
        return None
    return " ".join('"' + term.replace('"', '""') + '"*' for term in terms)


def find_hits(
    db: sqlite3.Connection, query: str, limit: int, mark: tuple[str, str] = DEFAULT_MARK
) -> list[SearchHit]:
    """Messages and titles of live (not deleted) conversations matching ``query``, best first.

    A title is a hit only for a conversation none of whose messages are: an automatic title
    repeats the first message, and the message hit says where the words are.
    """
    expression = match_expression(query)
    if expression is None or limit <= 0:
        return []
    rows = db.execute(
        f"""
        SELECT s.conversation_id, c.title, s.message_id,
               snippet(search_index, -1, ?, ?, '…', {SNIPPET_WORDS}) AS snippet,
               bm25(search_index, {TITLE_WEIGHT}, 1.0) AS score
        FROM search_index AS s JOIN conversations AS c ON c.id = s.conversation_id
        WHERE search_index MATCH ? AND c.deleted_at IS NULL
        ORDER BY score, s.rowid DESC
        LIMIT ?
        """,
        (mark[0], mark[1], expression, limit * 2),  # room for titles left out
    ).fetchall()
    hits = [
        SearchHit(
            conversation_id=str(conversation_id),
            title=str(title),
            message_id=None if message_id is None else int(message_id),
            snippet=" ".join(str(snippet).split()),  # one line, whatever the message's layout
            rank=float(score),
        )
        for conversation_id, title, message_id, snippet, score in rows
    ]
    in_messages = {hit.conversation_id for hit in hits if hit.message_id is not None}
    kept = [hit for hit in hits if hit.message_id is not None or hit.conversation_id not in in_messages]
    return kept[:limit]
