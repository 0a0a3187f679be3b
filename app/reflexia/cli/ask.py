"""`reflexia ask QUESTION --model REF`: an answer grounded in a document collection, with its sources.

The collection is searched first (hybrid ranking, relevance threshold), the embeddings model
is released, then the model answers with the passages beside the question in its context.
Only the passages that fitted the context are cited. When nothing relevant is found, the
model is told so and the output says so; no source is invented.
"""

from __future__ import annotations

import argparse
import json

from reflexia.cli.chat import TerminalEngine, _reply_json, _role, _sampling
from reflexia.core.config.settings import load_settings
from reflexia.core.engine.conversation import Conversation
from reflexia.core.engine.values import GenerationRequest
from reflexia.core.rag.values import SearchHit, passage_of


def _source_line(number: int, hit: SearchHit) -> str:
    page = f", page {hit.page}" if hit.page is not None else ""
    return f"[{number}] {hit.source}{page} (score {hit.score:.2f})"


def cmd_ask(args: argparse.Namespace) -> int:
    """`reflexia ask QUESTION --model REF [--collection NAME] [--json]`."""
    from reflexia.cli.library import resolve_model
    from reflexia.core.rag.index import DocumentIndex

    settings = load_settings().settings
    role = _role(args, settings)
    sampling = _sampling(args, settings, role)
    question = " ".join(args.question)
    ref = resolve_model(args.model, settings)  # a bad reference fails before the documents are searched
    with DocumentIndex.from_settings(settings) as index:
        hits = index.search(question, args.collection, settings.rag.top_k)
        index.embedder.unload()  # its memory goes back before the model loads
    engine = TerminalEngine(settings, load_anyway=args.load_anyway)
    try:
        info = engine.load(ref)
        conversation = Conversation(system_prompt=role.system_prompt)
        conversation.add_user(question)
        passages = tuple(passage_of(hit) for hit in hits)
        request = GenerationRequest(conversation.messages(), sampling, passages=passages)
        result = engine.generate(request, not args.json)
    finally:
        engine.close()
    used = hits[: result.stats.passages_used]
    if args.json:
        extra = {
            "role": role.name,
            "collection": args.collection,
            "sources": [hit.to_json_dict() for hit in used],
            "passages_found": len(hits),
        }
        print(json.dumps(_reply_json(result, info) | extra, ensure_ascii=False))
        return 0
    print()
    if used:
        print("\nSources:")
        for number, hit in enumerate(used, start=1):
            print(_source_line(number, hit))
    else:
        print(f"\nNothing relevant was found in collection {args.collection!r}: this answer is not from it.")
    return 0
