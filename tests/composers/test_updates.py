"""Knowledge updates: answer entities renamed mid-episode; the oracle overwrites what it keeps, a control does not."""

import json
import statistics

import gymnasium as gym
import pytest

from composers import compose
from composers.records import Objective, Task
from composers.updates import with_updates
from envkit.envs import TASKS_ENV_ID
from envkit.kinds.registry import updatable
from envkit.policy.base import AgentPolicy
from tests.conftest import SMALL_WORLD

SHOP = "shop:products=200,seed=1"


def objective(index, answer, kind="qa"):
    return Objective(f"o{index}", f"question {index}?", (answer,), "src", kind=kind)


def test_an_update_renames_one_answer_entity_wherever_it_answers():
    objectives = (objective(0, "Velmora Press"), objective(1, "1975"), objective(2, "Velmora Press"))
    task = Task("t", objectives, "p", "test", 0)
    updated = with_updates(task, 1, updatable)
    assert updated.id == "t-u1" and with_updates(task, 1, updatable) == updated  # a pure function of the task
    first, year, again = updated.objectives
    assert year.update is None  # numbers are not renamed
    assert first.update is not None and first.update == again.update and first.update.old == "Velmora Press"
    assert first.update.new.endswith(" Press") and first.update.new != "Velmora Press"
    assert 1 <= first.update.after_turn <= 3
    assert with_updates(task, 0, updatable) is task
    with pytest.raises(ValueError, match="non-negative"):
        with_updates(task, -1, updatable)
    record = updated.to_dict()
    assert Task.from_dict(json.loads(json.dumps(record))) == updated
    assert "update" not in task.to_dict()["objectives"][0]  # files without updates keep their bytes


def test_only_kinds_that_play_updates_are_renamed_and_new_names_are_in_no_passage(small_source):
    tasks = compose([SMALL_WORLD, SHOP], "mixed", 3, count=20, split="test", counts=[2, 1]).with_updates(2, updatable)
    updated = [o for task in tasks for o in task.objectives if o.update is not None]
    assert updated and all(o.kind == "qa" for o in updated)
    new_words = {o.update.new.split()[0] for o in updated}
    texts = " ".join(f"{title} {text}" for _, title, text in small_source.documents())
    assert not any(word in texts for word in new_words)


def make(strategy="parallel", source=SMALL_WORLD, n=2, context="consolidated", updates=1):
    def build():
        options = {"source": source, "strategy": strategy, "n_objectives": n, "context": context}
        return gym.make(TASKS_ENV_ID, split="test", updates=updates, **options)

    return build


def test_the_env_announces_an_update_after_its_turn_and_scores_the_name_that_holds():
    env = make()()
    for task_index in range(20):  # the first task with a name to rename (years are never renamed)
        env.reset(options={"task_index": task_index})
        task = env.get_wrapper_attr("task")
        if any(o.update is not None for o in task.objectives):
            break
    index, update = next((i, o.update) for i, o in enumerate(task.objectives) if o.update is not None)
    other = [o.golden_answers[0] for o in task.objectives]
    for turn in range(1, update.after_turn + 1):
        observation, *_, info = env.step("<IS>n</IS><search>anything</search>")
        assert ("[UPDATE]" in observation) == (turn == update.after_turn)
    assert info["updates"] == [update.statement] and update.statement in observation
    answers = list(other)
    _, reward, *_ = env.step(f"<IS>n</IS><answer>{'; '.join(answers)}</answer>")  # the old name, after the update
    assert reward == pytest.approx(1 - 1 / len(answers))
    env.reset(options={"task_index": task_index})
    answers[index] = update.new
    _, reward, *_ = env.step(f"<IS>n</IS><answer>{'; '.join(answers)}</answer>")  # before it: the old name holds
    assert reward == pytest.approx(1 - 1 / len(answers))


@pytest.mark.parametrize("context", ["consolidated", "full"])
@pytest.mark.parametrize("strategy", ["parallel", "chained"])
def test_the_oracle_updates_what_it_keeps_and_the_control_that_never_does_scores_lower(strategy, context):
    from envkit.kinds.oracle import TaskOracle
    from envkit.kinds.qa import OracleAgent
    from envkit.rollout.runner import RolloutRunner

    build = make(strategy, n=3, context=context)
    scores = {}
    for name, agent in (("oracle", lambda: TaskOracle("IS")), ("never", lambda: OracleAgent(follow_updates=False))):
        with RolloutRunner(build, AgentPolicy(agent)) as runner:
            scores[name] = statistics.fmean(t.reward for t in runner.run(12))
    assert scores["oracle"] == 1.0
    assert scores["never"] <= 0.75  # one of three answers renamed in every task: it misses it every time


@pytest.mark.slow
def test_updates_compose_into_mixed_tasks_and_task_files(tmp_path):
    from envkit.kinds.oracle import TaskOracle
    from envkit.rollout.runner import RolloutRunner
    from tests.cli.test_cli import assert_one_line_error, envkit

    with RolloutRunner(make("mixed", [SMALL_WORLD, SHOP], 3), AgentPolicy(lambda: TaskOracle("IS"))) as runner:
        assert all(t.reward == pytest.approx(1.0) for t in runner.run(4))
    path = tmp_path / "tasks.jsonl"
    flags = ["-n", "2", "--count", "5", "--split", "test", "--updates", "1"]
    done = envkit("compose", "-s", SMALL_WORLD, *flags, "-o", str(path))
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in path.read_text().splitlines()]
    renamed = [any("update" in o for o in r["objectives"]) for r in records]
    env = gym.make(TASKS_ENV_ID, task_file=path)
    played = []
    for task_index in range(len(records)):
        env.reset(options={"task_index": task_index})
        played.append(any(o.update is not None for o in env.get_wrapper_attr("task").objectives))
    assert any(renamed) and played == renamed  # the file carries the updates to the env
    with pytest.raises(ValueError, match="compose the task file with --updates"):
        gym.make(TASKS_ENV_ID, task_file=path, updates=1)
    assert_one_line_error(envkit("compose", "-o", str(tmp_path / "x.jsonl"), "--updates", "-1"), "updates")
