import json

import pytest

from envkit.retrieval import BM25Retriever, Corpus, RetrieverError, format_passages, make_retriever


@pytest.fixture(scope="module")
def corpus(small_source):
    return Corpus.from_documents(small_source.documents())


@pytest.mark.parametrize("backend", ["bm25s", "rank_bm25"])
def test_entity_name_finds_its_passage(corpus, small_source, backend):
    retriever = BM25Retriever(corpus, backend=backend)
    world = small_source.world
    hits = 0
    for entity in range(0, world.passages, 41):
        passages = retriever.search(world.name(entity), k=3)
        assert len(passages) <= 3
        assert [p.score for p in passages] == sorted((p.score for p in passages), reverse=True)
        hits += str(entity) in [p.id for p in passages]
    assert hits / len(range(0, world.passages, 41)) > 0.95


def test_backends_rank_the_same_top_passage(corpus, small_source):
    fast, reference = BM25Retriever(corpus), BM25Retriever(corpus, backend="rank_bm25")
    queries = [small_source.world.name(e) + " born" for e in range(0, 2000, 97)]
    assert [r[0].id for r in fast.batch_search(queries, 1)] == [r[0].id for r in reference.batch_search(queries, 1)]


def test_batch_equals_single(small_retriever, small_source):
    queries = [q.queries[0] for q in small_source.questions("train")[:50]]
    assert small_retriever.batch_search(queries, 3) == [small_retriever.search(q, 3) for q in queries]


@pytest.mark.slow
def test_jit_scorer_agrees_with_the_default(corpus, small_source):
    queries = [small_source.world.name(e) for e in range(0, 2000, 53)]
    default = BM25Retriever(corpus).batch_search(queries, 3)
    jit = BM25Retriever(corpus, jit=True).batch_search(queries, 3)
    assert [[p.id for p in r][:1] for r in default] == [[p.id for p in r][:1] for r in jit]


@pytest.mark.parametrize("query", ["", "   ", "the of and", "zzqqxx", "<>!!"])
def test_queries_with_no_known_terms_return_nothing(small_retriever, query):
    assert small_retriever.search(query) == []


def test_k_larger_than_the_corpus_and_bad_k():
    corpus = Corpus.from_documents([("1", "Alpha", "alpha beta"), ("2", "Gamma", "gamma alpha")])
    retriever = BM25Retriever(corpus)
    assert {p.id for p in retriever.search("alpha", k=10)} == {"1", "2"}
    with pytest.raises(RetrieverError):
        retriever.search("alpha", k=0)


def test_corpus_formats(tmp_path):
    wiki = tmp_path / "wiki.jsonl"
    wiki.write_text(json.dumps({"id": "7", "contents": '"Zorvath"\nZorvath is a river.'}) + "\n")
    titled = tmp_path / "titled.jsonl"
    titled.write_text(json.dumps({"id": "8", "title": "Quellin", "text": "Quellin is a lake."}) + "\n")
    for path, title in ((wiki, '"Zorvath"'), (titled, "Quellin")):  # wiki-18's title line is kept as written
        passage = make_retriever("bm25", path).search(title.strip('"'))[0]
        assert passage.title == title and title.strip('"') in passage.text
    rendered = format_passages(make_retriever("bm25", wiki).search("river"))
    assert rendered == 'Doc 1(Title: "Zorvath") Zorvath is a river.\n'


def test_bad_corpus_files_name_the_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "1", "contents": "x"}) + "\n" + json.dumps({"id": "2"}) + "\n")
    with pytest.raises(RetrieverError, match=r"bad\.jsonl:2: expected"):
        Corpus.from_jsonl(bad)
    with pytest.raises(RetrieverError, match="unknown retriever"):
        make_retriever("lucene9", bad)


@pytest.mark.slow
def test_numba_and_numpy_scorers_rank_ties_alike(small_source):
    """They ordered tied scores differently (310 of 500 queries): ties go to the lower passage index in both."""
    import random

    from envkit.retrieval.corpus import Corpus

    corpus = Corpus.from_documents(small_source.world.iter_passages())
    plain, jit = BM25Retriever(corpus, jit=False), BM25Retriever(corpus, jit=True)
    rng = random.Random(0)
    words = " ".join(corpus.texts[:1000]).split()
    queries = [" ".join(rng.choice(words) for _ in range(rng.randint(1, 3))) for _ in range(300)]
    for k in (3, 10):
        assert [[p.id for p in r] for r in plain.batch_search(queries, k)] == [
            [p.id for p in r] for r in jit.batch_search(queries, k)
        ]
        for hits in plain.batch_search(queries[:50], k):  # best first; equal scores in passage order
            keys = [(-p.score, corpus.ids.index(p.id)) for p in hits]
            assert keys == sorted(keys)
