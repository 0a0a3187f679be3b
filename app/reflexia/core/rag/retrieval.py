"""Ranking: the keyword query, reciprocal-rank fusion, the relevance threshold and de-duplication.

Pure functions over ids and stored chunks, so the policy is tested without a model or a store.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from reflexia.core.rag.catalog import StoredChunk

#: The constant of reciprocal-rank fusion (Cormack et al. 2009 use 60 for long lists; with the short
#: candidate lists here a smaller constant lets a passage ranked first by one retriever count).
RRF_K = 10
#: How much the keyword ranking counts against the vector ranking's 1.0: it confirms and adds exact
#: words, but on its own prefers passages that merely share common words.
KEYWORD_WEIGHT = 0.5
#: Below this cosine similarity a passage does not answer the query. With all-MiniLM-L6-v2 on the
#: standard-library test set, every passage that answered its query scored 0.31 or more, and the best
#: passage for queries about other things (recipes, football, taxes) 0.24 or less.
DEFAULT_MIN_SIMILARITY = 0.25
_MAX_QUERY_TERMS = 32
_WORD = re.compile(r"\w+", re.UNICODE)
# Words too common to say what a query is about; BM25 would weigh them little but still scan their lists.
_STOPWORDS = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from", "has", "have",
    "how", "i", "if", "in", "into", "is", "it", "its", "me", "my", "of", "on", "or", "our", "should",
    "so", "than", "that", "the", "their", "them", "then", "there", "these", "they", "this", "to", "was",
    "we", "what", "when", "where", "which", "who", "why", "will", "with", "would", "you", "your",
    "split",
))  # fmt: skip


def keyword_terms(text: str) -> list[str]:
    """The words of a query worth looking up: lower case, each once, without the most common English words."""
    words: dict[str, None] = {}
    for word in _WORD.findall(text.lower()):
        if word not in _STOPWORDS and (len(word) > 1 or word.isdigit()):
            words[word] = None
    return list(words)[:_MAX_QUERY_TERMS]


def fuse(rankings: Iterable[tuple[Sequence[int], float]], k: int = RRF_K) -> dict[int, float]:
    """Weighted reciprocal-rank fusion: an id scores the sum of weight / (k + rank) over its rankings.

    Args:
        rankings: Each ranking (ids, best first) with its weight.
        k: The fusion constant.
    """
    scores: dict[int, float] = {}
    for ranking, weight in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return scores


def overlaps(a: StoredChunk, b: StoredChunk) -> bool:
    """Whether two chunks share text: one passage twice (a copied file, say) or overlapping neighbours."""
    if a.text_hash == b.text_hash:
        return True
    return a.document_id == b.document_id and a.section == b.section and a.start < b.end and b.start < a.end


def without_overlaps(ranked: Iterable[StoredChunk], limit: int) -> list[StoredChunk]:
    """The first ``limit`` chunks of a ranking, leaving out every chunk that overlaps a better-ranked one."""
    kept: list[StoredChunk] = []
    for chunk in ranked:
        if not any(overlaps(chunk, better) for better in kept):
            kept.append(chunk)
            if len(kept) == limit:
                break
    return kept
