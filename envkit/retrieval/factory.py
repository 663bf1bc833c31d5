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
from composers.spec_table import SpecTable
from envkit.retrieval.base import Retriever, RetrieverError
from envkit.retrieval.bm25 import BACKENDS, BM25Retriever
from envkit.retrieval.corpus import Corpus

__all__ = [
    "RETRIEVERS",
    "make_retriever",
    "needs_documents",
    "open_retriever",
    "retriever_specs",
    "synthetic_retriever",
]

_DENSE_KINDS = ("flat", "hnsw", "ivf")


def retriever_specs() -> str:
    """Every retriever spec form, for help texts and errors."""
    return f"{RETRIEVERS.usage()}, index:PATH, http://HOST:PORT"


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
    raise RetrieverError(f"{spec!r} needs a corpus to index (use {retriever_specs()})")


def _bm25(option: str, spec: str, corpus: Corpus) -> Retriever:
    backend = option or "bm25s"
    if backend not in BACKENDS:
        raise RetrieverError(f"unknown BM25 backend {backend!r} (use {' or '.join(BACKENDS)})")
    return BM25Retriever(corpus, backend=backend)


def _lucene(option: str, spec: str, corpus: Corpus) -> Retriever:
    from envkit.retrieval.lucene import LuceneRetriever, build_lucene_index

    if option:
        raise RetrieverError(f"lucene takes no option, got {spec!r}")
    folder = Path(tempfile.mkdtemp(prefix="envkit-lucene-"))
    retriever = LuceneRetriever(build_lucene_index(corpus, folder / "index"))
    weakref.finalize(retriever, shutil.rmtree, folder, True)  # the index lives as long as its retriever
    return retriever


def _dense(option: str, spec: str, corpus: Corpus) -> Retriever:
    from envkit.retrieval.dense import DenseRetriever, SentenceEncoder

    kind = option or "flat"
    if kind not in _DENSE_KINDS:
        raise RetrieverError(f"unknown dense index kind {kind!r} (use {', '.join(_DENSE_KINDS)})")
    return DenseRetriever.build(corpus, SentenceEncoder(), kind)


def _hybrid(option: str, spec: str, corpus: Corpus) -> Retriever:
    from envkit.retrieval.hybrid import HybridRetriever

    return HybridRetriever([RETRIEVERS.resolve("bm25", corpus), RETRIEVERS.resolve("dense", corpus)])


RETRIEVERS: SpecTable[Retriever] = SpecTable("retriever", RetrieverError)
"""Retriever specs that index a corpus they are given; ``RETRIEVERS.register`` adds one."""
RETRIEVERS.register("bm25", _bm25, "bm25, bm25:rank_bm25")
RETRIEVERS.register("lucene", _lucene, "lucene")
RETRIEVERS.register("dense", _dense, "dense, dense:hnsw, dense:ivf")
RETRIEVERS.register("hybrid", _hybrid, "hybrid")


@lru_cache(maxsize=8)
def synthetic_retriever(passages: int, seed: int, test_fraction: float, spec: str = "bm25") -> Retriever:
    """A (cached) retriever over a synthetic world's passages."""
    world = SyntheticWorld(passages=passages, seed=seed, test_fraction=test_fraction)
    return make_retriever(spec, world.iter_passages())


def make_retriever(spec: str, documents: Iterable[tuple[str, str, str]] | str | Path | None = None) -> Retriever:
    """A retriever of kind ``spec``; corpus specs index ``documents`` (tuples or a corpus file)."""
    if not needs_documents(spec):
        return open_retriever(spec)
    if spec.partition(":")[0] not in RETRIEVERS:  # before reading a corpus for nothing
        raise RetrieverError(f"unknown retriever {spec!r} (use {retriever_specs()})")
    if documents is None:
        raise RetrieverError(f"retriever {spec!r} needs a corpus to index")
    corpus = Corpus.from_jsonl(documents) if isinstance(documents, (str, Path)) else Corpus.from_documents(documents)
    return RETRIEVERS.resolve(spec, corpus)
