import pytest

from envkit.retrieval import Passage, RetrieverError
from envkit.retrieval.hybrid import HybridRetriever, reciprocal_rank_fusion


def ranking(*ids):
    return [Passage(i, f"T{i}", f"text {i}") for i in ids]


def test_rrf_rewards_agreement():
    fused = reciprocal_rank_fusion([ranking("a", "b", "c"), ranking("b", "c", "d")], k=4, rrf_k=60)
    assert [p.id for p in fused] == ["b", "c", "a", "d"]
    assert fused[0].score == pytest.approx(1 / 62 + 1 / 61)


def test_rrf_weights():
    fused = reciprocal_rank_fusion([ranking("a"), ranking("b")], k=2, weights=[1.0, 3.0])
    assert [p.id for p in fused] == ["b", "a"]


class Fixed:
    def __init__(self, ids):
        self.ids = ids

    def search(self, query, k=3):
        return ranking(*self.ids)[:k]

    def batch_search(self, queries, k=3):
        return [self.search(q, k) for q in queries]


def test_hybrid_fuses_its_retrievers():
    hybrid = HybridRetriever([Fixed(["x", "y"]), Fixed(["y", "z"])])
    assert [p.id for p in hybrid.search("q", 2)] == ["y", "x"]
    assert len(hybrid.batch_search(["q", "r"], 3)) == 2
    with pytest.raises(RetrieverError):
        HybridRetriever([Fixed(["x"])])
