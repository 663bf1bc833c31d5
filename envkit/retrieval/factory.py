"""Build a retriever from a spec and a corpus, sharing indexes within a process.

Specs: ``bm25`` (bm25s), ``bm25:rank_bm25``. Indexes of the bundled synthetic world
are cached per process, so the N envs of a ``SyncVectorEnv`` search one index.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from composers.sources.synthetic import SyntheticWorld
from envkit.retrieval.base import Retriever, RetrieverError
from envkit.retrieval.bm25 import BACKENDS, BM25Retriever
from envkit.retrieval.corpus import Corpus

__all__ = ["RETRIEVER_SPECS", "make_retriever", "synthetic_retriever"]

RETRIEVER_SPECS = "bm25, bm25:rank_bm25"


def _backend(spec: str) -> str:
    kind, _, backend = spec.partition(":")
    if kind != "bm25":
        raise RetrieverError(f"unknown retriever {spec!r} (use {RETRIEVER_SPECS})")
    backend = backend or "bm25s"
    if backend not in BACKENDS:
        raise RetrieverError(f"unknown BM25 backend {backend!r} (use {' or '.join(BACKENDS)})")
    return backend


@lru_cache(maxsize=8)
def synthetic_retriever(passages: int, seed: int, test_fraction: float, spec: str = "bm25") -> Retriever:
    """A (cached) retriever over a synthetic world's passages."""
    world = SyntheticWorld(passages=passages, seed=seed, test_fraction=test_fraction)
    return BM25Retriever(Corpus.from_documents(world.iter_passages()), backend=_backend(spec))


def make_retriever(spec: str, documents: Iterable[tuple[str, str, str]] | str | Path) -> Retriever:
    """A retriever of kind ``spec`` over ``documents`` (tuples or a corpus JSONL path)."""
    backend = _backend(spec)
    corpus = Corpus.from_jsonl(documents) if isinstance(documents, (str, Path)) else Corpus.from_documents(documents)
    return BM25Retriever(corpus, backend=backend)
