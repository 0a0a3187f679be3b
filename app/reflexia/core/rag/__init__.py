"""Documents: a local knowledge base searched by meaning and by keywords.

The pipeline: :mod:`~.loaders` read files into sections with their location (file, page,
heading); :mod:`~.chunker` cuts them by the embedder's tokens; :mod:`~.embedder` turns chunks
into vectors; :class:`~.index.DocumentIndex` keeps them (ChromaDB for vectors, SQLite FTS5 for
keywords) and searches both, fused by reciprocal rank. The values it hands out (progress,
summaries, hits) are in :mod:`~.values`, its errors in :mod:`~.errors`.

This package imports nothing on its own, so importing any one module stays cheap:
sentence-transformers, torch and ChromaDB are imported the first time a document is
indexed or searched, never at start-up.
"""
