"""Retrievers: every back-end implements :class:`Retriever`.

Embedded BM25 and the helpers below import light; Lucene (:mod:`.lucene`), dense
(:mod:`.dense`) and the server (:mod:`.server`) load their heavy dependencies only
when used.
"""

from envkit.retrieval.base import BaseRetriever, Passage, Retriever, RetrieverError, format_passages
from envkit.retrieval.bm25 import BM25Retriever
from envkit.retrieval.corpus import Corpus
from envkit.retrieval.factory import RETRIEVERS, make_retriever, open_retriever, retriever_specs
from envkit.retrieval.hybrid import HybridRetriever, reciprocal_rank_fusion
from envkit.retrieval.remote import RemoteRetriever
from envkit.retrieval.store import build_index, load_index

__all__ = [
    "RETRIEVERS",
    "BM25Retriever",
    "BaseRetriever",
    "Corpus",
    "HybridRetriever",
    "Passage",
    "RemoteRetriever",
    "Retriever",
    "RetrieverError",
    "build_index",
    "format_passages",
    "load_index",
    "make_retriever",
    "open_retriever",
    "reciprocal_rank_fusion",
    "retriever_specs",
]
