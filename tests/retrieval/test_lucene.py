import pytest

from envkit.retrieval import Corpus, RetrieverError
from tests.conftest import require


@pytest.fixture(scope="module")
def lucene(tmp_path_factory, small_source):
    require("pyserini", "jnius")
    from envkit.retrieval.store import build_index, load_index

    corpus = Corpus.from_documents(small_source.documents())
    folder = build_index("lucene", corpus, tmp_path_factory.mktemp("idx") / "lucene-index")
    return load_index(folder)


def test_java_21_or_newer_is_found_without_a_manual_setup():
    require("pyserini", "jnius")
    from envkit.retrieval.java import MIN_JAVA, prepare_pyserini

    runtime = prepare_pyserini()
    assert runtime.version >= MIN_JAVA
    assert (runtime.home / "bin" / "java").is_file()


@pytest.mark.slow
def test_a_real_lucene_index_finds_entity_passages(lucene, small_source):
    world = small_source.world
    assert len(lucene) == world.passages
    entities = range(0, world.passages, 41)
    hits = 0
    for entity in entities:
        passages = lucene.search(world.name(entity), k=3)
        assert 1 <= len(passages) <= 3
        assert [p.score for p in passages] == sorted((p.score for p in passages), reverse=True)
        hits += passages[0].id == str(entity)
        assert passages[0].title and passages[0].text
    assert hits / len(entities) > 0.95


def test_batch_equals_single_and_odd_queries(lucene, small_source):
    queries = [q.question for q in small_source.questions("train")[:30]] + ["", "<>!!", "AND OR NOT (", "zzqqxx"]
    batched = lucene.batch_search(queries, 3)
    assert [[p.id for p in r] for r in batched] == [[p.id for p in lucene.search(q, 3)] for q in queries]
    assert lucene.search("") == [] and lucene.search("zzqqxx") == []


def test_lucene_agrees_with_embedded_bm25_on_the_top_passage(lucene, small_retriever, small_source):
    names = [small_source.world.name(e) for e in range(0, 2000, 37)]
    pairs = zip(lucene.batch_search(names, 1), small_retriever.batch_search(names, 1), strict=True)
    same = sum(a[0].id == b[0].id for a, b in pairs)
    assert same / len(names) > 0.9


def test_lucene_env_reaches_every_answer(lucene):
    import gymnasium as gym

    from envkit.envs import QA_ENV_ID
    from envkit.policy import OracleAgent
    from envkit.rollout.episode import run_episode
    from tests.conftest import SMALL_WORLD

    env = gym.make(QA_ENV_ID, source=SMALL_WORLD, n_objectives=3, retriever=lucene)
    assert all(run_episode(env, OracleAgent(), task_index=i).success for i in range(5))


def test_missing_index_and_refusal_to_overwrite(tmp_path, lucene):
    require("pyserini", "jnius")
    from envkit.retrieval.lucene import LuceneRetriever, build_lucene_index

    with pytest.raises(RetrieverError, match="no Lucene index"):
        LuceneRetriever(tmp_path / "nothing")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("precious")
    with pytest.raises(RetrieverError, match="not empty"):
        build_lucene_index([("1", "t", "x")], tmp_path / "full")
    assert (tmp_path / "full" / "keep.txt").read_text() == "precious"
