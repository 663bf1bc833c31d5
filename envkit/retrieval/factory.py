"""Build a retriever from a spec string, sharing indexes within a process.

Specs that index a corpus given to them:
``bm25`` (bm25s), ``bm25:rank_bm25``, ``lucene`` (a Lucene index in a temporary folder),
``dense``, ``dense:hnsw``, ``dense:ivf`` (faiss over the default encoder), ``hybrid``
(bm25 + dense fused by RRF). Specs that open something that exists:
``index:PATH`` (a folder from ``envkit index build``) and ``http://HOST:PORT`` (a
retrieval server). Indexes of the bundled synthetic world are cached per process, so
the N envs of a ``SyncVectorEnv`` search one index.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from composers.sources.synthetic import SyntheticWorld
from envkit.retrieval.base import Retriever, RetrieverError
from envkit.retrieval.bm25 import BACKENDS, BM25Retriever
from envkit.retrieval.corpus import Corpus

__all__ = ["RETRIEVER_SPECS", "make_retriever", "needs_documents", "open_retriever", "synthetic_retriever"]

RETRIEVER_SPECS = "bm25, bm25:rank_bm25, lucene, dense, dense:hnsw, dense:ivf, hybrid, index:PATH, http://HOST:PORT"
_DENSE_KINDS = {"dense": "flat", "dense:flat": "flat", "dense:hnsw": "hnsw", "dense:ivf": "ivf"}


def needs_documents(spec: str) -> bool:
    """Whether ``spec`` indexes a corpus (rather than opening an index or a server)."""
    return not (spec.startswith(("index:", "http://", "https://")))


def open_retriever(spec: str) -> Retriever:
    """Open an existing index folder (``index:PATH``) or a server (``http://...``)."""
    if spec.startswith("index:"):
        from envkit.retrieval.store import load_index

        return load_index(spec.removeprefix("index:"))
    if spec.startswith(("http://", "https://")):
        from envkit.retrieval.remote import RemoteRetriever

        return RemoteRetriever(spec)
    raise RetrieverError(f"{spec!r} needs a corpus to index (use {RETRIEVER_SPECS})")


def _from_corpus(spec: str, corpus: Corpus) -> Retriever:
    kind, _, option = spec.partition(":")
    if kind == "bm25":
        backend = option or "bm25s"
        if backend not in BACKENDS:
            raise RetrieverError(f"unknown BM25 backend {backend!r} (use {' or '.join(BACKENDS)})")
        return BM25Retriever(corpus, backend=backend)
    if spec == "lucene":
        from envkit.retrieval.lucene import LuceneRetriever, build_lucene_index

        folder = Path(tempfile.mkdtemp(prefix="envkit-lucene-"))
        retriever = LuceneRetriever(build_lucene_index(corpus, folder / "index"))
        weakref.finalize(retriever, shutil.rmtree, folder, True)  # the index lives as long as its retriever
        return retriever
    if spec in _DENSE_KINDS:
        from envkit.retrieval.dense import DenseRetriever, SentenceEncoder

        return DenseRetriever.build(corpus, SentenceEncoder(), _DENSE_KINDS[spec])
    if spec == "hybrid":
        from envkit.retrieval.hybrid import HybridRetriever

        return HybridRetriever([_from_corpus("bm25", corpus), _from_corpus("dense", corpus)])
    raise RetrieverError(f"unknown retriever {spec!r} (use {RETRIEVER_SPECS})")


@lru_cache(maxsize=8)
def synthetic_retriever(passages: int, seed: int, test_fraction: float, spec: str = "bm25") -> Retriever:
    """A (cached) retriever over a synthetic world's passages."""
    world = SyntheticWorld(passages=passages, seed=seed, test_fraction=test_fraction)
    return make_retriever(spec, world.iter_passages())


def make_retriever(spec: str, documents: Iterable[tuple[str, str, str]] | str | Path | None = None) -> Retriever:
    """A retriever of kind ``spec``; corpus specs index ``documents`` (tuples or a corpus file)."""
    if not needs_documents(spec):
        return open_retriever(spec)
    if spec.partition(":")[0] not in ("bm25", "lucene", "dense", "hybrid"):
        raise RetrieverError(f"unknown retriever {spec!r} (use {RETRIEVER_SPECS})")
    if documents is None:
        raise RetrieverError(f"retriever {spec!r} needs a corpus to index")
    corpus = Corpus.from_jsonl(documents) if isinstance(documents, (str, Path)) else Corpus.from_documents(documents)
    return _from_corpus(spec, corpus)
