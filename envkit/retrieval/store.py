"""Index folders: build once with ``envkit index build``, open anywhere with :func:`load_index`.

An index folder holds ``envkit-index.json`` (format, back-end, passage count, build
parameters), the back-end's files, and, for back-ends that do not store text
themselves, the passages in ``corpus.parquet``. A build writes into a temporary
sibling folder and renames it into place, so a failed build leaves nothing behind
and an existing index is never overwritten.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from composers.atomic import atomic_folder
from envkit.retrieval.base import Retriever, RetrieverError
from envkit.retrieval.corpus import Corpus

__all__ = ["INDEX_BACKENDS", "MANIFEST", "build_index", "load_index"]

MANIFEST = "envkit-index.json"
FORMAT = "envkit.index/1"
CORPUS_FILE = "corpus.parquet"
INDEX_BACKENDS = ("bm25", "lucene", "dense")


def _save_corpus(corpus: Corpus, folder: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"id": corpus.ids, "title": corpus.titles, "text": corpus.texts})
    pq.write_table(table, folder / CORPUS_FILE)


def _load_corpus(folder: Path) -> Corpus:
    import pyarrow.parquet as pq

    table = pq.read_table(folder / CORPUS_FILE, memory_map=True)
    return Corpus(table.column("id").to_pylist(), table.column("title").to_pylist(), table.column("text").to_pylist())


def build_index(
    backend: str,
    corpus: Corpus,
    folder: str | Path,
    *,
    dense_model: str | None = None,
    dense_kind: str = "flat",
    query_prefix: str = "",
    passage_prefix: str = "",
    threads: int = 2,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Build a ``backend`` index of ``corpus`` into the new folder ``folder``."""
    if backend not in INDEX_BACKENDS:
        raise RetrieverError(f"unknown index back-end {backend!r} (use {', '.join(INDEX_BACKENDS)})")
    folder = Path(folder)
    if folder.exists():
        raise RetrieverError(f"{folder} already exists: refusing to overwrite an index")
    params: dict[str, Any] = {}
    with atomic_folder(folder) as staging:
        if backend == "bm25":
            from envkit.retrieval.bm25 import BM25Retriever

            retriever = BM25Retriever(corpus)
            retriever.save(staging)
            params = retriever.params
        elif backend == "lucene":
            from envkit.retrieval.lucene import build_lucene_index

            build_lucene_index(corpus, staging / "lucene", threads=threads)
        else:
            from envkit.retrieval.dense import DenseRetriever, SentenceEncoder

            encoder = SentenceEncoder(dense_model, query_prefix, passage_prefix)
            DenseRetriever.build(corpus, encoder, dense_kind, progress=progress).save(staging)
            params = {
                "model": encoder.model_name if dense_model else None,
                "kind": dense_kind,
                "query_prefix": query_prefix,
                "passage_prefix": passage_prefix,
                "dimension": encoder.dimension,
            }
        if backend != "lucene":  # Lucene stores the raw passages itself
            _save_corpus(corpus, staging)
        manifest = {"format": FORMAT, "backend": backend, "passages": len(corpus), "params": params}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return folder


def load_index(folder: str | Path, jit: bool = False) -> Retriever:
    """Open an index folder written by :func:`build_index` (any back-end)."""
    folder = Path(folder)
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise RetrieverError(f"{folder}: not an envkit index (no {MANIFEST}); build one with 'envkit index build'")
    try:
        manifest = json.loads(manifest_path.read_text())
    except json.JSONDecodeError as error:
        raise RetrieverError(f"{manifest_path}: invalid JSON ({error.msg})") from None
    if manifest.get("format") != FORMAT:
        raise RetrieverError(f"{manifest_path}: unsupported index format {manifest.get('format')!r}")
    backend, params = manifest.get("backend"), manifest.get("params") or {}
    if backend == "bm25":
        from envkit.retrieval.bm25 import BM25Retriever

        return BM25Retriever.load(folder, _load_corpus(folder), params, jit=jit)
    if backend == "lucene":
        from envkit.retrieval.lucene import LuceneRetriever

        return LuceneRetriever(folder / "lucene")
    if backend == "dense":
        from envkit.retrieval.dense import DenseRetriever, SentenceEncoder

        encoder = SentenceEncoder(params.get("model"), params.get("query_prefix", ""), params.get("passage_prefix", ""))
        return DenseRetriever.load(folder, _load_corpus(folder), encoder)
    raise RetrieverError(f"{manifest_path}: unknown back-end {backend!r}")
