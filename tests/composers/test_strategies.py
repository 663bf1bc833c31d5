import hashlib
import json
from dataclasses import replace

import pytest

from composers import SourceError, Task, compose, read_tasks
from composers.sources.files import FileSource
from composers.sources.schemas import question_key
from composers.strategies import CompositionError
from composers.taskfiles import write_tasks
from tests.conftest import SMALL_WORLD


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_parallel_any_n_from_1_to_256(small_source):
    for n in range(1, 257):
        tasks = compose(small_source, "parallel", n_objectives=n, count=3, seed=n)
        for task in tasks:
            assert task.n_objectives == n
            assert len({o.id for o in task.objectives}) == n


def test_parallel_never_repeats_a_question_within_a_task_across_passes(small_source):
    tasks = compose(small_source, "parallel", n_objectives=7, count=3 * (len(small_source.questions("train")) // 7))
    for task in tasks:
        assert len({o.id for o in task.objectives}) == 7


def test_parallel_without_shuffle_groups_in_source_order(small_source):
    pool = small_source.questions("train")
    tasks = compose(small_source, "parallel", n_objectives=4, count=3, shuffle=False)
    assert [o.id for o in tasks[1].objectives] == [q.id for q in pool[4:8]]


@pytest.mark.parametrize("strategy", ["parallel", "chained"])
def test_same_seed_same_tasks_other_seed_other_tasks(small_source, strategy):
    a = compose(small_source, strategy, n_objectives=5, count=20, seed=1)
    b = compose(SMALL_WORLD, strategy, n_objectives=5, count=20, seed=1)
    c = compose(small_source, strategy, n_objectives=5, count=20, seed=2)
    assert list(a) == list(b)
    assert list(a) != list(c)


@pytest.mark.parametrize("suffix", ["jsonl", "parquet"])
def test_task_files_are_byte_identical_and_round_trip(tmp_path, suffix, small_source):
    tasks = compose(small_source, "chained", n_objectives=6, count=50, seed=9)
    first, second = tmp_path / f"a.{suffix}", tmp_path / f"b.{suffix}"
    assert tasks.write(first) == 50
    compose(SMALL_WORLD, "chained", n_objectives=6, count=50, seed=9).write(second)
    assert sha(first) == sha(second)
    assert list(read_tasks(first)) == list(tasks)
    named = [replace(task, corpus="/data/wiki.jsonl") for task in list(tasks)[:3]]  # a task may name its corpus
    write_tasks(named, tmp_path / f"c.{suffix}")
    assert list(read_tasks(tmp_path / f"c.{suffix}")) == named


def test_split_discipline_no_test_question_in_train(small_source):
    test_keys = {
        question_key(o.question) for t in compose(small_source, "parallel", 8, 200, "test") for o in t.objectives
    }
    for strategy in ("parallel", "chained"):
        for task in compose(small_source, strategy, 8, 500, "train", seed=3):
            assert task.split == "train"
            assert not {question_key(o.question) for o in task.objectives if o.depends_on is None} & test_keys
            # bridge entities never leave the train part of the world
            assert all(
                small_source.world.split_of(int(i)) == "train" for o in task.objectives for i in o.supporting_ids
            )


@pytest.mark.parametrize("n", [1, 2, 16, 64, 256])
def test_chained_any_n(small_source, n):
    task = compose(small_source, "chained", n_objectives=n, count=1, seed=5)[0]
    assert task.n_objectives == n
    assert len({o.id for o in task.objectives}) == n
    for k, objective in enumerate(task.objectives):
        assert objective.depends_on in (None, k - 1)


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_chained_real_sets_use_templated_references(tmp_path):
    path = write_jsonl(
        tmp_path / "qa.jsonl",
        [{"id": str(i), "question": f"What is {i} squared?", "golden_answers": [str(i * i)]} for i in range(30)],
    )
    task = compose(f"file:{path}", "chained", n_objectives=4, count=1, seed=2)[0]
    first, second = task.objectives[0], task.objectives[1]
    assert second.depends_on == 0 and "question 1" in second.question
    assert second.golden_answers[0].startswith(first.golden_answers[0] + " | ")


def test_mixed_draws_from_every_source(tmp_path, small_source):
    path = write_jsonl(
        tmp_path / "nq.jsonl", [{"question": f"real question {i}?", "answer": [f"a{i}"]} for i in range(50)]
    )
    tasks = compose([small_source, f"file:{path}"], "mixed", n_objectives=8, count=40, seed=1)
    sources = {o.source for t in tasks for o in t.objectives}
    world = "synthetic:passages=2000,seed=3"  # a synthetic objective names the world it is answered from
    assert sources == {world, f"file:{path.resolve()}"} and small_source.name == world  # a file's: its spec
    for task in tasks:
        assert len({(o.source, o.id) for o in task.objectives}) == 8
        assert task.sources == (world, "nq")
    only_file = compose([small_source, f"file:{path}"], "mixed", 4, 10, weights=[0, 1])
    assert {o.source for t in only_file for o in t.objectives} == {f"file:{path.resolve()}"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_objectives": 0}, "positive integer"),
        ({"strategy": "serial"}, "unknown strategy"),
        ({"n_objectives": 10**6}, "fewer than N"),
        ({"source": ["synthetic", "synthetic:seed=2"], "strategy": "parallel"}, "takes one source"),
        ({"source": "nowhere:x"}, "unknown source"),
        ({"source": "synthetic:passages=ten"}, "not a number"),
        ({"source": "synthetic:colour=red"}, "unknown synthetic option"),
        ({"source": "flashrag:squad"}, "unknown FlashRAG set"),
    ],
)
def test_bad_compositions_name_the_problem(kwargs, message):
    args = {"source": SMALL_WORLD, "n_objectives": 2, "count": 3} | kwargs
    with pytest.raises(SourceError, match=message):
        compose(**args)


def test_file_source_train_drops_questions_also_in_test(tmp_path):
    train = write_jsonl(
        tmp_path / "train.jsonl",
        [{"id": str(i), "question": f"Q{i}?", "golden_answers": ["x"]} for i in range(10)],
    )
    test = write_jsonl(tmp_path / "test.jsonl", [{"id": "t", "question": "  q3? ", "golden_answers": ["x"]}])
    source = FileSource({"train": train, "test": test})
    assert "Q3?" not in {o.question for o in source.questions("train")}
    assert len(source.questions("train")) == 9


def test_task_records_reject_bad_dependencies():
    record = compose(SMALL_WORLD, "chained", 3, 1)[0].to_dict()
    record["objectives"][1]["depends_on"] = 2
    with pytest.raises(ValueError, match="not an earlier objective"):
        Task.from_dict(record)


def test_composition_error_is_a_source_error():
    assert issubclass(CompositionError, SourceError)


def test_to_dataset_holds_the_same_records(small_source, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    tasks = compose(small_source, "chained", n_objectives=3, count=25, seed=4)
    dataset = tasks.to_dataset()
    assert len(dataset) == 25
    assert [Task.from_dict(row) for row in dataset] == list(tasks)
