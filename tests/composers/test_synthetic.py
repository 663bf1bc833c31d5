import itertools

import pytest

from composers import SourceError, SyntheticSource, SyntheticWorld
from composers.sources.synthetic.names import WordSpace
from composers.sources.synthetic.world import RELATIONS


def test_world_is_deterministic_and_seeded():
    a, b, c = SyntheticWorld(1000, seed=1), SyntheticWorld(1000, seed=1), SyntheticWorld(1000, seed=2)
    assert list(a.iter_passages()) == list(b.iter_passages())
    assert list(a.iter_passages()) != list(c.iter_passages())


@pytest.mark.parametrize("passages", [1_000, 20_000])
def test_names_are_unique(passages):
    world = SyntheticWorld(passages, seed=0)
    names = [world.name(e) for e in range(passages)]
    assert len(set(names)) == passages


def test_word_space_is_injective_on_a_sample():
    space = WordSpace(2, seed=5)
    words = [space.word(i) for i in range(0, space.size, space.size // 50_000)]
    assert len(set(words)) == len(words)


def test_a_million_passage_world_costs_nothing_until_rendered():
    world = SyntheticWorld(1_000_000, seed=0)
    last = world.passage(999_999)
    assert last[0] == "999999" and last[1] in last[2]
    assert world.split_of(999_999) == "test"


def test_relations_stay_inside_their_split():
    world = SyntheticWorld(3000, seed=4)
    for entity in range(0, 3000, 7):
        for relation in RELATIONS[world.type_of(entity)]:
            if relation.target is not None:
                assert world.split_of(world.target(entity, relation)) == world.split_of(entity)


def test_passages_state_their_facts(small_source):
    world = small_source.world
    for entity in range(0, world.passages, 37):
        _, title, text = world.passage(entity)
        assert title == world.name(entity)
        for relation in RELATIONS[world.type_of(entity)]:
            assert world.value(entity, relation) in text


def test_multi_hop_answers_follow_the_supporting_passages(small_source):
    world = small_source.world
    bank = small_source.questions("train")
    hops = {len(q.supporting_ids) for q in bank}
    assert hops == {1, 2, 3}
    for question in bank[:500]:
        passages = [world.passage(int(i)) for i in question.supporting_ids]
        # each hop's entity is named in the previous hop's passage, the answer in the last
        for (_, _, text), (_, next_title, _) in itertools.pairwise(passages):
            assert next_title in text
        assert question.golden_answers[0] in passages[-1][2]
        assert list(question.queries) == [p[1] for p in passages]


def test_question_bank_has_no_duplicates_and_splits_are_disjoint(small_source):
    train, test = small_source.questions("train"), small_source.questions("test")
    train_questions = {q.question for q in train}
    assert len(train_questions) == len(train)
    assert not train_questions & {q.question for q in test}
    world = small_source.world
    assert all(world.split_of(int(i)) == "test" for q in test for i in q.supporting_ids)
    assert all(world.split_of(int(i)) == "train" for q in train for i in q.supporting_ids)


def test_chain_links_each_answer_to_the_next_subject(small_source):
    chain = small_source.chain("train", 12, key=42)
    assert len(chain) == 12
    for k in range(1, 12):
        if chain[k].depends_on is not None:
            assert chain[k].depends_on == k - 1
            assert f"question {k}" in chain[k].question
            # the next objective's subject passage is the previous answer
            assert chain[k].queries[0] == chain[k - 1].golden_answers[0]
    assert sum(o.depends_on is not None for o in chain) == 11
    assert len({o.id for o in chain}) == 12


@pytest.mark.parametrize("kwargs", [{"passages": 10}, {"max_hops": 4}, {"questions": 0}, {"test_fraction": 1.5}])
def test_bad_world_settings(kwargs):
    with pytest.raises(SourceError):
        SyntheticSource(**kwargs)


def test_unknown_split(small_source):
    with pytest.raises(SourceError, match="unknown split"):
        small_source.questions("validation")
