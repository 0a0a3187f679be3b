"""Full-text search over conversation titles and messages (SQLite FTS5)."""

from __future__ import annotations

import re
import sqlite3

from reflexia.core.history.records import SearchHit

#: Marks around each matching word in a snippet unless the caller asks for others (Markdown bold).
DEFAULT_MARK = ("**", "**")
SNIPPET_WORDS = 16
TITLE_WEIGHT = 2.0  # a word in the title says more about a conversation than one in a long reply
# FTS5 marks matches with these while the snippet is cleaned of Markdown; the caller's marks go in last
# (the default ones are Markdown themselves).
_OPEN, _CLOSE = "\x02", "\x03"

_LINE_MARKUP = re.compile(r"^\s*(?:#{1,6}\s+|>\s?|[-*+]\s+|\d+[.)]\s+|`{3,}\S*|~{3,}\S*|\|)+")
_INLINE_MARKUP = (
    (re.compile(r"!?\[([^\]\n]*)\]\([^)\n]*\)"), r"\1"),  # [text](url) and ![alt](src): the text
    (re.compile(r"`+"), ""),
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),
    (re.compile(r"(?<![\w*])([*_])(?=\S)(.+?)(?<=\S)\1(?![\w*])"), r"\2"),
    (re.compile(r"~~(.+?)~~"), r"\1"),
    (re.compile(r"\s*\|\s*"), " "),  # table cells
)


def plain_snippet(snippet: str) -> str:
    """A snippet of a message as the reader sees it: Markdown markup left out, on one line."""
    lines = []
    for line in snippet.splitlines():
        line = _LINE_MARKUP.sub("", line)
        for pattern, replacement in _INLINE_MARKUP:
            line = pattern.sub(replacement, line)
        lines.append(line)
    return " ".join(" ".join(lines).split())


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
    db: sqlite3.Connection,
    query: str,
    limit: int,
    mark: tuple[str, str] = DEFAULT_MARK,
    *,
    per_conversation: bool = False,
) -> list[SearchHit]:
    """Messages and titles of live (not deleted) conversations matching ``query``, best first.

    A title is a hit only for a conversation none of whose messages are: an automatic title
    repeats the first message, and the message hit says where the words are. With
    ``per_conversation`` each conversation gives only its best hit (a list of conversations
    to open, not of messages).
    """
    expression = match_expression(query)
    if expression is None or limit <= 0:
        return []
    # Rank every match first (cheap), then make snippets for the hits kept only.
    ranked = db.execute(
        f"""
        SELECT s.rowid, s.conversation_id, s.message_id, bm25(search_index, {TITLE_WEIGHT}, 1.0) AS score
        FROM search_index AS s JOIN conversations AS c ON c.id = s.conversation_id
        WHERE search_index MATCH ? AND c.deleted_at IS NULL
        ORDER BY score, s.rowid DESC
        """,
        (expression,),
    ).fetchall()
    in_messages = {str(row[1]) for row in ranked if row[2] is not None}
    kept: list[int] = []
    seen: set[str] = set()
    for rowid, conversation_id, message_id, _score in ranked:
        if message_id is None and conversation_id in in_messages:
            continue
        if per_conversation:
            if conversation_id in seen:
                continue
            seen.add(conversation_id)
        kept.append(int(rowid))
        if len(kept) == limit:
            break
    if not kept:
        return []
    rows = db.execute(
        f"""
        SELECT s.rowid, s.conversation_id, c.title, s.message_id,
               snippet(search_index, -1, ?, ?, '…', {SNIPPET_WORDS}) AS snippet,
               bm25(search_index, {TITLE_WEIGHT}, 1.0) AS score
        FROM search_index AS s JOIN conversations AS c ON c.id = s.conversation_id
        WHERE search_index MATCH ? AND s.rowid IN ({", ".join("?" * len(kept))})
        """,
        (_OPEN, _CLOSE, expression, *kept),
    ).fetchall()
    by_rowid = {int(row[0]): row for row in rows}
    hits = []
    for rowid in kept:
        _, conversation_id, title, message_id, snippet, score = by_rowid[rowid]
        text = plain_snippet(str(snippet)).replace(_OPEN, mark[0]).replace(_CLOSE, mark[1])
        hits.append(
            SearchHit(
                conversation_id=str(conversation_id),
                title=str(title),
                message_id=None if message_id is None else int(message_id),
                snippet=text,
                rank=float(score),
            )
        )
    return hits
