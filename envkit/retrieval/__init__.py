"""Retrievers: every back-end implements :class:`Retriever`."""

from envkit.retrieval.base import Passage, Retriever, RetrieverError, format_passages
from envkit.retrieval.bm25 import BM25Retriever
from envkit.retrieval.corpus import Corpus
from envkit.retrieval.factory import make_retriever

__all__ = ["BM25Retriever", "Corpus", "Passage", "Retriever", "RetrieverError", "format_passages", "make_retriever"]
