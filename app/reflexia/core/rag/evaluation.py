"""A retrieval test set from text nobody here wrote: Python's standard-library module docstrings.

Every module's docstring splits into a one-line summary (the query) and a body (the document
to find). The set exists wherever Python does, so the recall test and the benchmark measure
the same thing on any machine. Modules are read with :mod:`ast`, never imported.
"""

from __future__ import annotations

import ast
import re
import sysconfig
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# Parts of the standard library that are tools, tests or vendored code rather than modules people use.
_SKIPPED_PARTS = frozenset(
    {"test", "tests", "idlelib", "lib2to3", "ensurepip", "site-packages", "turtledemo"}
)
MIN_SUMMARY_WORDS = 3
MIN_BODY_CHARACTERS = 100
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(])")


@dataclass(frozen=True)
class RetrievalCase:
    """One query and the document that answers it.

    Attributes:
        module: The module's dotted name, also the document's file name (``module.txt``).
        query: The docstring's summary: its first sentence.
        body: The rest of the docstring.
    """

    module: str
    query: str
    body: str


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _split_summary(docstring: str) -> tuple[str, str]:
    """The summary (the first sentence, which some docstrings wrap over two lines) and the rest."""
    first, _, rest = docstring.strip().partition("\n\n")
    sentences = _SENTENCE_END.split(" ".join(first.split()), maxsplit=1)
    remainder = sentences[1] if len(sentences) > 1 else ""
    return sentences[0], f"{remainder}\n\n{rest}".strip()


def stdlib_retrieval_set(
    count: int, *, max_body_characters: int = 2000, stdlib: Path | None = None
) -> list[RetrievalCase]:
    """Up to ``count`` cases, spread evenly over the public standard-library modules with a real docstring.

    Args:
        count: How many cases at most.
        max_body_characters: Bodies are cut to this (at a paragraph break where one is near) to keep
            the index small.
        stdlib: The standard library folder; by default this Python's.
    """
    root = stdlib or Path(sysconfig.get_paths()["stdlib"])
    cases: list[RetrievalCase] = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root).parts
        if any(
            part in _SKIPPED_PARTS or (part.startswith("_") and part != "__init__.py") for part in relative
        ):
            continue
        try:
            docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
        except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
            continue
        if not docstring:
            continue
        summary, body = _split_summary(docstring)
        if len(summary.split()) < MIN_SUMMARY_WORDS or len(body) < MIN_BODY_CHARACTERS:
            continue
        if len(body) > max_body_characters:
            cut = body.rfind("\n\n", max_body_characters // 2, max_body_characters)
            body = body[: cut if cut > 0 else max_body_characters].rstrip()
        cases.append(RetrievalCase(_module_name(path, root), summary.strip(), body))
    # Bodies shared by several modules (generated codecs say the same of themselves) cannot be told apart.
    bodies = Counter(case.body for case in cases)
    cases = [case for case in cases if bodies[case.body] == 1]
    if len(cases) <= count:
        return cases
    step = len(cases) / count
    return [cases[int(i * step)] for i in range(count)]


def write_documents(cases: Sequence[RetrievalCase], folder: Path) -> dict[str, Path]:
    """Write each case's body to ``folder/<module>.txt``; returns the file of each module."""
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    for case in cases:
        file = folder / f"{case.module}.txt"
        file.write_text(case.body + "\n", encoding="utf-8")
        files[case.module] = file.absolute()
    return files


def recall_at(found: Sequence[Sequence[Path]], expected: Sequence[Path], k: int) -> float:
    """The share of queries whose expected document is among the first ``k`` documents found."""
    if not expected:
        return 0.0
    hits = sum(1 for ranked, target in zip(found, expected, strict=True) if target in list(ranked)[:k])
    return hits / len(expected)
