"""`reflexia index`, `search`, `collections` and `forget`: the document index from the command line.

The index lives in the vector store folder of the settings (``VECTOR_DB_PATH``, by default
``paths.data_dir() / "vectordb"``). Flags and ``--json`` keys are a stable contract: added,
never renamed. ``index`` exits 0 when at least one file was indexed or found unchanged,
even if others failed, and 1 only when nothing could be done.
"""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from reflexia.core.errors import ReflexiaError
from reflexia.core.rag.values import DEFAULT_COLLECTION, DocumentOutcome, SearchHit

if TYPE_CHECKING:
    from reflexia.core.rag.index import DocumentIndex

AnyParser = TypeVar("AnyParser", bound=argparse.ArgumentParser)  # `reflexia` uses its own subclass

SNIPPET_CHARACTERS = 300


class DocumentsCommandError(ReflexiaError):
    """A documents sub-command could not do what was asked."""


def add_documents_parser(commands: argparse._SubParsersAction[AnyParser]) -> None:
    """Register ``index``, ``search``, ``collections`` and ``forget`` on the ``reflexia`` parser."""
    collection_help = f"the document collection (default: {DEFAULT_COLLECTION})"

    index = commands.add_parser(
        "index", help="add files and folders (searched recursively) to a document collection"
    )
    index.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files and folders to index")
    index.add_argument("--collection", default=DEFAULT_COLLECTION, metavar="NAME", help=collection_help)
    index.add_argument("--json", action="store_true", help="print one JSON object when done")

    search = commands.add_parser("search", help="find the passages of a collection that best match a query")
    search.add_argument("query", nargs="+", metavar="QUERY", help="a question or words to look for")
    search.add_argument("--collection", default=DEFAULT_COLLECTION, metavar="NAME", help=collection_help)
    search.add_argument(
        "-k", type=int, default=None, metavar="N", help="passages at most (default: rag.top_k)"
    )
    search.add_argument("--json", action="store_true", help="print one JSON object")

    collections = commands.add_parser("collections", help="list document collections and their sizes")
    collections.add_argument("--json", action="store_true", help="print one JSON object")

    forget = commands.add_parser("forget", help="remove documents (a file or folder) or a whole collection")
    forget.add_argument("path", nargs="?", type=Path, default=None, metavar="PATH", help="a file or folder")
    forget.add_argument(
        "--collection", default=None, metavar="NAME",
        help="with PATH: only from this collection; alone: the whole collection",
    )  # fmt: skip


def _open_index() -> DocumentIndex:
    # Imported here: the index brings numpy and the document readers, which other commands never need.
    from reflexia.core.config.settings import load_settings
    from reflexia.core.rag.index import DocumentIndex

    return DocumentIndex.from_settings(load_settings().settings)


def _outcome_line(outcome: DocumentOutcome) -> str:
    if outcome.status == "indexed":
        return f"indexed    {outcome.path}  ({outcome.chunks} chunk{'' if outcome.chunks == 1 else 's'})"
    if outcome.status == "unchanged":
        return f"unchanged  {outcome.path}"
    return f"failed     {outcome.path}: {outcome.error}"


def cmd_index(args: argparse.Namespace) -> int:
    """`reflexia index PATH... [--collection NAME] [--json]`."""
    # The run is closed before the index, even on Ctrl+C: it removes the document it was writing.
    with _open_index() as index, closing(index.index_files(args.paths, args.collection)) as run:
        summary = None
        for progress in run:
            if progress.outcome is not None and not args.json:
                print(_outcome_line(progress.outcome), flush=True)
            summary = progress.summary or summary
    assert summary is not None  # the last progress carries it
    if args.json:
        print(json.dumps(summary.to_json_dict(), ensure_ascii=False))
    else:
        counts = (
            f"{len(summary.indexed)} indexed, {len(summary.skipped)} unchanged, {len(summary.failed)} failed"
        )
        print(
            f"{counts}, {summary.chunks} chunks in {summary.seconds:.1f} s, collection {summary.collection!r}"
        )
    if summary.indexed or summary.skipped:
        return 0
    given = ", ".join(str(p) for p in args.paths)
    reason = "every file failed" if summary.failed else "no supported documents found"
    print(f"reflexia: index: nothing could be indexed from {given}: {reason}", file=sys.stderr)
    return 1


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SNIPPET_CHARACTERS else flat[: SNIPPET_CHARACTERS - 1].rstrip() + "…"


def _hit_heading(rank: int, hit: SearchHit) -> str:
    where = [str(hit.source)]
    if hit.page is not None:
        where.append(f"page {hit.page}")
    if hit.heading:
        where.append(hit.heading)
    return f"{rank}. {', '.join(where)}  (score {hit.score:.2f})"


def cmd_search(args: argparse.Namespace) -> int:
    """`reflexia search QUERY [--collection NAME] [-k N] [--json]`."""
    from reflexia.core.config.settings import load_settings
    from reflexia.core.rag.index import DocumentIndex

    settings = load_settings().settings
    k = settings.rag.top_k if args.k is None else args.k
    if k < 1:
        raise DocumentsCommandError(f"search: -k must be 1 or more, not {k}")
    query = " ".join(args.query)
    with DocumentIndex.from_settings(settings) as index:
        hits = index.search(query, args.collection, k)
    if args.json:
        rows = [hit.to_json_dict() for hit in hits]
        print(json.dumps({"query": query, "collection": args.collection, "hits": rows}, ensure_ascii=False))
        return 0
    if not hits:
        print(f"No passages in collection {args.collection!r} are relevant to {query!r}.")
        return 0
    for rank, hit in enumerate(hits, start=1):
        print(_hit_heading(rank, hit))
        print(f"   {_snippet(hit.text)}")
    return 0


def cmd_collections(args: argparse.Namespace) -> int:
    """`reflexia collections [--json]`."""
    with _open_index() as index:
        collections = index.collections()
    if args.json:
        print(json.dumps({"collections": [c.to_json_dict() for c in collections]}, ensure_ascii=False))
        return 0
    if not collections:
        print("No document collections yet; add documents with `reflexia index PATH`.")
        return 0
    width = max(len("COLLECTION"), *(len(c.name) for c in collections))
    print(f"{'COLLECTION':<{width}}  {'DOCUMENTS':>9}  {'CHUNKS':>8}")
    for c in collections:
        print(f"{c.name:<{width}}  {c.documents:>9}  {c.chunks:>8}")
    return 0


def cmd_forget(args: argparse.Namespace) -> int:
    """`reflexia forget PATH [--collection NAME]` or `reflexia forget --collection NAME`."""
    if args.path is None and args.collection is None:
        raise DocumentsCommandError(
            "forget: give a PATH, --collection NAME, or both (see reflexia forget --help)"
        )
    with _open_index() as index:
        removed = index.remove(path=args.path, collection=args.collection)
    what = f"collection {args.collection!r}" if args.path is None else str(args.path)
    documents = f"{removed.documents} document{'' if removed.documents == 1 else 's'}"
    print(f"Forgot {what}: {documents}, {removed.chunks} chunk{'' if removed.chunks == 1 else 's'}.")
    return 0
