"""A kind written outside envkit plugs in with no change to the composite env, the runner, eval or the oracle."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

from composers import compose
from composers.records import Objective, Task
from composers.taskfiles import write_tasks
from envkit.envs import COMPOSITE_ENV_ID, SHOP_ENV_ID, TASK_FILE_ENV_ID
from envkit.envs.episodes import choose_task, read_turn
from envkit.envs.from_tasks import make_tasks_env
from envkit.envs.spaces import UnicodeText
from envkit.eval.harness import EvalCase, evaluate
from envkit.kinds import KindError, ObjectiveKind, get_kind, kind_names, kinds_of, register_kind
from envkit.kinds.oracle import TaskOracle
from envkit.policy.base import AgentPolicy
from envkit.protocol.parser import Violation
from envkit.protocol.prompts import PromptSection
from envkit.protocol.tags import TagSet
from envkit.rollout.episode import run_episode
from envkit.rollout.runner import RolloutRunner
from tests.conftest import SMALL_WORLD


class SpellingEnv(gym.Env[str, str]):
    """Spell each word backwards, one per turn: a third-party kind's env following the ObjectiveEnv contract."""

    def __init__(self, tasks: Sequence[Task], tags: TagSet, max_turns: int | None = None) -> None:
        self.tasks, self.tags, self.max_turns, self.task = tasks, tags, max_turns, None
        self.observation_space, self.action_space = UnicodeText(100_000), UnicodeText(1000)

    def turn_budget(self, task: Task) -> int:
        return task.n_objectives + 1

    def prompt_section(self) -> PromptSection:
        tag = self.tags.actions[0]
        words = tuple(o.question for o in self.task.objectives)
        return PromptSection(
            f"spell {len(words)} word(s) backwards", (f"spell one: <{tag}> drow </{tag}>",), "Words", words
        )

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        index = choose_task(self.np_random, len(self.tasks), options)
        self.task, self.scores, self.turn = self.tasks[index], [], 0
        return "Spell the words backwards.", {"task_index": index, "objective_scores": [0.0] * self.task.n_objectives}

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        self.turn += 1
        parsed = read_turn(action, self.tags, 1000)
        info: dict[str, Any] = {"action_content": None, "violation": None}
        reward = 0.0
        if isinstance(parsed, Violation):
            info["violation"] = parsed.kind.value
        else:
            gold = self.task.objectives[len(self.scores)].golden_answers[0]
            self.scores.append(float(parsed.action.content.strip() == gold))
            info["action_content"] = parsed.action.content
            reward = self.scores[-1] / self.task.n_objectives
        n = self.task.n_objectives
        info["objective_scores"] = self.scores + [0.0] * (n - len(self.scores))
        terminated = len(self.scores) == n
        truncated = not terminated and self.turn >= (self.max_turns or self.turn_budget(self.task))
        return self.tags.information_block("noted"), reward, terminated, truncated, info


class SpellingOracle:
    def __init__(self, tags: TagSet) -> None:
        self.tags = tags

    def reset(self, task: Task) -> None:
        self.answers = iter([o.golden_answers[0] for o in task.objectives])

    def act(self, observation: str, info: dict[str, Any]) -> str:
        return self.tags.format_turn("spelling", self.tags.actions[0], next(self.answers))


class SpellingKind(ObjectiveKind):
    name = "spelling"
    actions = ("spell",)
    env_options = frozenset({"max_turns"})

    def open_resource(self, tasks, **options):
        return None

    def make_env(self, tasks, resource, tags, **options):
        return SpellingEnv(tasks, tags, **options)

    def oracle(self, tasks, tags):
        return SpellingOracle(tags)


def _spelling_task(index: int, words: Sequence[str], questions: Sequence[Objective] = ()) -> Task:
    spelled = tuple(Objective(f"w{index}-{i}", w, (w[::-1],), "words", kind="spelling") for i, w in enumerate(words))
    return Task(f"t{index}", (*questions, *spelled), "mixed", "test", 0, ("words",))


@pytest.fixture(scope="module")
def spelling_kind():
    register_kind(SpellingKind())
    yield get_kind("spelling")


def test_a_registered_kind_composes_with_questions_everywhere(spelling_kind, tmp_path):
    questions = compose(SMALL_WORLD, "parallel", n_objectives=2, count=6, split="test")
    tasks = [_spelling_task(i, ["envkit", "memory", "state"][: 1 + i % 3], questions[i].objectives) for i in range(6)]
    assert kinds_of(tasks) == ("qa", "spelling") and "spelling" in kind_names()
    path = tmp_path / "spelling.jsonl"
    write_tasks(tasks, path)
    env = gym.make(TASK_FILE_ENV_ID, task_file=path)
    observation, _ = env.reset(options={"task_index": 2})
    assert "spell 3 word(s) backwards" in observation and "Words:\n1. envkit" in observation
    assert env.get_wrapper_attr("tags").actions == ("search", "answer", "spell")
    trajectories = [run_episode(env, TaskOracle(), task_index=i) for i in range(6)]
    assert all(t.success and t.reward == pytest.approx(1.0) for t in trajectories)
    # the runner and eval read the plug-in's scores like any other kind's
    cases = [EvalCase(3, "consolidated", lambda **o: make_tasks_env(tasks, **o))]
    [row] = evaluate(cases, AgentPolicy(TaskOracle), episodes=6, batch_size=3)
    assert row.success == 1.0 and row.em_sum == 2.0


@pytest.mark.slow
def test_check_env_passes_on_composite_and_wrapped_envs(spelling_kind, small_source):
    tasks = [_spelling_task(i, ["abc", "de"], compose(SMALL_WORLD, "parallel", 1, 3)[i].objectives) for i in range(3)]
    check_env(make_tasks_env(tasks).unwrapped, skip_render_check=True)
    check_env(make_tasks_env(tasks), skip_render_check=True)
    check_env(gym.make(COMPOSITE_ENV_ID, n_questions=1, n_goals=1).unwrapped, skip_render_check=True)


def test_unknown_kinds_and_options_are_one_line_errors(tmp_path):
    task = Task("t", (Objective("x", "q?", ("a",), "s", kind="telepathy"),), "parallel", "test", 0)
    with pytest.raises(KindError, match="unknown objective kind 'telepathy'"):
        make_tasks_env([task])
    tasks = compose(SMALL_WORLD, "parallel", 1, 3)
    with pytest.raises(KindError, match="takes no option"):
        make_tasks_env(list(tasks), mode="browser")


def test_one_loop_scores_a_shop_episode_the_same_way_everywhere(tmp_path, monkeypatch):
    monkeypatch.setenv("ENVKIT_CACHE", str(tmp_path))
    env = gym.make(SHOP_ENV_ID, shop="shop:products=300,seed=1")
    one_by_one = [run_episode(env, TaskOracle(), task_index=i) for i in range(3)]
    with RolloutRunner(lambda: gym.make(SHOP_ENV_ID, shop="shop:products=300,seed=1"), AgentPolicy(TaskOracle)) as r:
        batched = r.run(3)
    assert [t.success for t in one_by_one] == [t.success for t in batched] == [True, True, True]
    assert [t.reward for t in one_by_one] == [t.reward for t in batched]


def test_task_records_name_the_corpus_they_are_answered_from(tmp_path):
    import json

    tasks = compose("synthetic:passages=600,seed=5", "chained", 3, 4, split="test")
    assert {o.source for t in tasks for o in t.objectives} == {"synthetic:passages=600,seed=5"}
    path = tmp_path / "tasks.jsonl"
    tasks.write(path)
    env = gym.make(TASK_FILE_ENV_ID, task_file=path)  # the corpus comes from the records alone
    assert all(run_episode(env, TaskOracle(), task_index=i).success for i in range(4))
    # a file written before records named their world (source "synthetic") still replays from its ids
    legacy = tmp_path / "legacy.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    for record in lines:
        for objective in record["objectives"]:
            objective["source"] = "synthetic"
    legacy.write_text("".join(json.dumps(record) + "\n" for record in lines))
    env = gym.make(TASK_FILE_ENV_ID, task_file=legacy)
    assert all(run_episode(env, TaskOracle(), task_index=i).success for i in range(4))
