"""Hybrid retrieval: lexical and dense rankings fused by reciprocal rank fusion.

RRF (Cormack et al., 2009) scores a passage ``sum_i w_i / (k + rank_i)`` over the
rankings it appears in. It needs no score calibration between back-ends, which is
why it is the usual way to combine BM25 with dense retrieval.
"""

from __future__ import annotations

from collections.abc import Sequence

from envkit.retrieval.base import BaseRetriever, Passage, Retriever, RetrieverError

__all__ = ["HybridRetriever", "reciprocal_rank_fusion"]


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[Passage]], k: int, weights: Sequence[float] | None = None, rrf_k: int = 60
) -> list[Passage]:
    """Fuse ``rankings`` of one query into the top ``k`` passages (score = fused RRF score)."""
    weights = weights or [1.0] * len(rankings)
    scores: dict[str, float] = {}
    first_seen: dict[str, Passage] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, passage in enumerate(ranking, start=1):
            scores[passage.id] = scores.get(passage.id, 0.0) + weight / (rrf_k + rank)
            first_seen.setdefault(passage.id, passage)
    order = sorted(scores, key=lambda pid: (-scores[pid], pid))[:k]
    return [Passage(pid, first_seen[pid].title, first_seen[pid].text, scores[pid]) for pid in order]


class HybridRetriever(BaseRetriever):
    """Several retrievers fused with RRF.

    Args:
        retrievers: the back-ends to fuse (e.g. BM25 and dense).
        weights: one weight per back-end (default equal).
        depth: how many results each back-end contributes per query.
        rrf_k: the RRF constant (60 in the original paper).

    """

    def __init__(
        self,
        retrievers: Sequence[Retriever],
        weights: Sequence[float] | None = None,
        depth: int = 20,
        rrf_k: int = 60,
    ) -> None:
        if len(retrievers) < 2:
            raise RetrieverError("a hybrid retriever fuses at least two retrievers")
        if weights is not None and len(weights) != len(retrievers):
            raise RetrieverError(f"need one weight per retriever, got {len(weights)} for {len(retrievers)}")
        self.retrievers, self.weights, self.depth, self.rrf_k = list(retrievers), weights, depth, rrf_k

    def __len__(self) -> int:
        return len(self.retrievers[0])  # type: ignore[arg-type]  # its members are sized corpora (checked in __init__)

    def _batch_search(self, queries: list[str], k: int) -> list[list[Passage]]:
        depth = max(self.depth, k)
        per_backend = [r.batch_search(queries, depth) for r in self.retrievers]
        return [
            reciprocal_rank_fusion([rankings[i] for rankings in per_backend], k, self.weights, self.rrf_k)
            for i in range(len(queries))
        ]

    def __repr__(self) -> str:
        return f"HybridRetriever({self.retrievers!r})"
