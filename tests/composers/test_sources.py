import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from composers import SourceError, SourceUnavailable, compose, load_source
from composers.sources.files import FileSource
from composers.sources.hub import HubSource

FLASHRAG = [
    {"id": f"train_{i}", "question": f"who wrote book {i}?", "golden_answers": [f"author {i}", f"A{i}"]}
    for i in range(40)
]
HOTPOT = [
    {
        "_id": f"5a{i}",
        "question": f"Which city hosts team {i}?",
        "answer": f"city {i}",
        "supporting_facts": [[f"Team {i}", 0], [f"City {i}", 1], [f"Team {i}", 1]],
        "context": [[f"Team {i}", ["Team plays in", f"city {i}."]], [f"City {i}", ["A city."]]],
        "type": "bridge",
        "level": "hard",
    }
    for i in range(12)
]
NQ_OPEN = [{"question": f"when was event {i}", "answer": [f"{1900 + i}"]} for i in range(25)]


@pytest.fixture
def files(tmp_path):
    flashrag = tmp_path / "nq_train.jsonl"
    flashrag.write_text("".join(json.dumps(r) + "\n" for r in FLASHRAG), encoding="utf-8")
    hotpot = tmp_path / "hotpot_dev_distractor.json"
    hotpot.write_text(json.dumps(HOTPOT), encoding="utf-8")
    nq_open = tmp_path / "nq_open.parquet"
    pq.write_table(pa.Table.from_pylist(NQ_OPEN), nq_open)
    return {"flashrag": flashrag, "hotpot": hotpot, "nq_open": nq_open}


def test_flashrag_jsonl(files):
    source = load_source(f"file:train={files['flashrag']}")
    questions = source.questions("train")
    assert len(questions) == 40
    assert questions[3].golden_answers == ("author 3", "A3")
    assert questions[3].id == "nq_train:train_3"


def test_hotpotqa_native_json_brings_its_own_corpus(files):
    source = FileSource({"test": files["hotpot"]})
    question = source.questions("test")[0]
    assert question.golden_answers == ("city 0",)
    assert question.supporting_ids == ("Team 0", "City 0")
    titles = {title for _, title, _ in source.documents()}
    assert {"Team 0", "City 11"} <= titles and len(titles) == 24


def test_a_task_file_from_hotpotqa_files_replays_from_any_folder_with_their_paragraphs(files, tmp_path, monkeypatch):
    """Its questions name the files they came from (a spec), so the env finds the passages those files bring."""
    import gymnasium as gym

    from envkit.envs import TASK_FILE_ENV_ID
    from envkit.policy.specs import load_policy
    from envkit.rollout.runner import RolloutRunner

    spec = f"file:test={files['hotpot']}"
    task_file = tmp_path / "tasks" / "hotpot_n2.jsonl"
    task_file.parent.mkdir()
    compose(spec, "parallel", 2, 4, split="test", seed=0).write(task_file)
    objective = json.loads(task_file.read_text().splitlines()[0])["objectives"][0]
    assert objective["source"] == f"file:test={files['hotpot'].resolve()}"
    assert objective["id"].startswith("hotpot_dev_distractor:")  # ids stay short and machine-independent
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    make = lambda: gym.make(TASK_FILE_ENV_ID, task_file=str(task_file))  # noqa: E731
    with RolloutRunner(make, load_policy("oracle"), batch_size=2) as runner:
        trajectories = runner.run(4)
    assert all(t.success for t in trajectories)
    assert "Doc 1(Title: Team" in trajectories[0].turns[0].observation


def test_a_task_file_from_files_without_passages_asks_for_a_corpus(files, tmp_path):
    import gymnasium as gym

    from envkit.envs import TASK_FILE_ENV_ID
    from envkit.retrieval.base import RetrieverError

    task_file = tmp_path / "nq_n2.jsonl"
    compose(f"file:train={files['flashrag']}", "parallel", 2, 3, split="train", seed=0).write(task_file)
    with pytest.raises(RetrieverError, match="--corpus PATH"):
        gym.make(TASK_FILE_ENV_ID, task_file=str(task_file))


def test_nq_open_parquet(files):
    source = load_source(f"file:test={files['nq_open']}")
    assert [q.golden_answers for q in source.questions("test")[:2]] == [("1900",), ("1901",)]
    with pytest.raises(SourceError, match="no 'train' split"):
        source.questions("train")


def test_a_corrupt_line_is_named(tmp_path, files):
    bad = tmp_path / "bad.jsonl"
    lines = files["flashrag"].read_text().splitlines()
    lines[6] = '{"id": "x", "question": "broken'
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(SourceError, match=r"bad\.jsonl:7: invalid JSON"):
        load_source(f"file:{bad}").questions("train")


def test_a_record_of_unknown_schema_is_named(tmp_path):
    bad = tmp_path / "odd.jsonl"
    bad.write_text('{"query": "q", "label": 1}\n')
    with pytest.raises(SourceError, match=r"odd\.jsonl:1: .*unknown QA schema"):
        load_source(f"file:{bad}").questions("train")


def test_missing_and_unsupported_files(tmp_path):
    with pytest.raises(SourceError, match="no such file"):
        load_source(f"file:{tmp_path / 'none.jsonl'}")
    odd = tmp_path / "data.csv"
    odd.write_text("question,answer\n")
    with pytest.raises(SourceError, match="unsupported file type"):
        load_source(f"file:{odd}").questions("train")


@pytest.mark.parametrize(("builder", "key"), [("json", "flashrag"), ("parquet", "nq_open")])
def test_hub_code_path_through_datasets_on_local_files(files, builder, key, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    source = HubSource(builder, data_files={"train": str(files[key])}, name=key)
    questions = source.questions("train")
    assert len(questions) == {"flashrag": 40, "nq_open": 25}[key]
    tasks = compose(source, "parallel", n_objectives=4, count=5)
    assert all(t.sources == (key,) for t in tasks)


def test_hub_unreachable_is_one_clear_line(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(SourceUnavailable) as raised:
        load_source("flashrag:nq").questions("train")
    message = str(raised.value)
    assert "\n" not in message
    assert "RUC-NLPIR/FlashRAG_datasets/nq" in message and "--source file:PATH" in message


def test_records_without_a_gold_answer_are_skipped_and_counted(tmp_path):
    """FlashRAG's skr_training.json holds one record with golden_answers [""] among 849: the file still loads."""
    import json

    from composers.sources.registry import load_source

    path = tmp_path / "skr_training.json"
    records = [{"id": str(i), "question": f"Question {i}?", "golden_answers": [f"answer {i}"]} for i in range(5)]
    records.insert(2, {"id": "x", "question": "An unanswerable one?", "golden_answers": [""]})
    path.write_text(json.dumps(records))
    source = load_source(f"file:train={path}")
    with pytest.warns(UserWarning, match=r"skipped 1 train record\(s\) whose gold answers are all empty"):
        questions = source.questions("train")
    assert len(questions) == 5 and source.skipped == {"train": 1}
    assert "An unanswerable one?" not in {q.question for q in questions}


def test_one_file_serves_disjoint_reproducible_splits(files, tmp_path):
    """A bare file:PATH used to serve the same questions, same ids, as train and as test."""
    source = load_source(f"file:{files['flashrag']}")
    train, test = source.questions("train"), source.questions("test")
    assert not {q.question for q in train} & {q.question for q in test}
    assert len(train) + len(test) == 40 and 1 <= len(test) <= 12
    shuffled = tmp_path / "shuffled.jsonl"
    lines = files["flashrag"].read_text().splitlines()
    shuffled.write_text("\n".join(reversed(lines)) + "\n")  # the same questions in another order
    again = load_source(f"file:{shuffled}").questions("test")
    assert {q.question for q in again} == {q.question for q in test}
