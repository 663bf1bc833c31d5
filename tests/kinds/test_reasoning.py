"""The reasoning-gym kind: its source, its env, its oracle, and its place among the other kinds."""

from __future__ import annotations

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

from tests.conftest import SMALL_WORLD, require

require("reasoning_gym")

import reasoning_gym  # noqa: E402

from composers import compose  # noqa: E402
from composers.sources.base import SourceError  # noqa: E402
from composers.sources.registry import load_source  # noqa: E402
from envkit.envs import COMPOSITE_ENV_ID, TASK_FILE_ENV_ID  # noqa: E402
from envkit.eval.harness import EvalCase, evaluate  # noqa: E402
from envkit.kinds.oracle import TaskOracle  # noqa: E402
from envkit.kinds.reasoning import ReasoningEnv  # noqa: E402
from envkit.policy.base import AgentPolicy  # noqa: E402
from envkit.rollout.episode import run_episode  # noqa: E402

GENERATORS = "reasoning_gym:basic_arithmetic,leg_counting,chain_sum,letter_counting"


def test_the_source_serves_reasoning_gyms_own_problems_per_split():
    source = load_source(GENERATORS)
    train, test = source.questions("train"), source.questions("test")
    for split_seed, pool in ((0, train), (1, test)):
        for index in (0, 1, 2, 3, 4, 999):
            objective = pool[index]
            name, seed, position = objective.id.split("/")
            entry = reasoning_gym.create_dataset(name, size=1000, seed=split_seed)[int(position)]
            assert (int(seed), objective.kind, objective.source) == (split_seed, "reasoning", f"reasoning_gym:{name}")
            assert objective.question == entry["question"] and objective.golden_answers == (entry["answer"],)
    assert [o.id.split("/")[0] for o in train[:4]] == [
        "basic_arithmetic",
        "leg_counting",
        "chain_sum",
        "letter_counting",
    ]
    assert train[0] != test[0]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("reasoning_gym:", "name at least one generator"),
        ("reasoning_gym:no_such_generator", "unknown reasoning-gym generator 'no_such_generator'"),
        ("reasoning_gym:chain_sum,size=x", "bad option 'size=x'"),
        ("reasoning_gym:chain_sum,size=0", "size must be at least 1"),
    ],
)
def test_bad_specs_are_one_line_errors(spec, message):
    with pytest.raises(SourceError, match=message):
        load_source(spec).questions("train")


class _Guesser:
    """Answers every problem with 7: a baseline the oracle must beat."""

    def __init__(self, tags):
        self.tags = tags

    def reset(self, task):
        pass

    def act(self, observation, info):
        return self.tags.format_turn("guessing", "solve", "7")


def test_rewards_come_from_each_problems_own_scorer():
    tasks = compose(GENERATORS, "parallel", n_objectives=4, count=3, split="test", seed=2)
    env = ReasoningEnv(tasks)
    env.reset(options={"task_index": 1})
    task = env.task
    expected = []
    answers = ["0", task.objectives[1].golden_answers[0], "  not a number ", task.objectives[3].golden_answers[0] + "0"]
    for objective, answer in zip(task.objectives, answers, strict=True):
        name, seed, position = objective.id.split("/")
        dataset = reasoning_gym.create_dataset(name, size=int(position) + 1, seed=int(seed))
        expected.append(dataset.score_answer(answer.strip(), dataset[int(position)]))
    rewards, infos = [], []
    for answer in answers:
        _, reward, terminated, _, info = env.step(f"<IS>working</IS><solve>{answer}</solve>")
        rewards.append(reward)
        infos.append(info)
    assert terminated and rewards == pytest.approx([s / 4 for s in expected])
    assert infos[-1]["objective_scores"] == pytest.approx(expected)
    assert infos[0]["action_content"] == "0" and [i["problem"] for i in infos] == [0, 1, 2, 3]


def test_malformed_turns_are_observations_and_the_turn_budget_truncates():
    tasks = compose("reasoning_gym:chain_sum", "parallel", n_objectives=2, count=2, split="train")
    env = ReasoningEnv(tasks)
    env.reset(seed=0)
    observation, reward, terminated, truncated, info = env.step("<solve>5</solve>")
    assert info["violation"] == "missing_state" and reward == 0 and "Invalid turn" in observation
    for _ in range(5):
        observation, reward, terminated, truncated, info = env.step(12345)  # not even text
    assert truncated and not terminated and info["violation"] == "not_text"  # 2 * N + 2 = 6 turns
    check_env(ReasoningEnv(tasks), skip_render_check=True)


@pytest.mark.parametrize("context", ["consolidated", "full"])
def test_the_oracle_solves_every_problem_through_the_task_file_env(tmp_path, context):
    path = tmp_path / "reasoning.jsonl"
    compose(GENERATORS, "parallel", n_objectives=6, count=10, split="test", seed=4).write(path)
    env = gym.make(TASK_FILE_ENV_ID, task_file=path, context=context)
    trajectories = [run_episode(env, TaskOracle(), task_index=i) for i in range(10)]
    assert all(t.success and t.reward == pytest.approx(1.0) for t in trajectories)
    assert all(len(t.turns) == 6 and t.violations == 0 for t in trajectories)
    tags = env.get_wrapper_attr("tags")
    guesses = [run_episode(env, _Guesser(tags), task_index=i) for i in range(10)]
    assert all(not t.success for t in guesses) and sum(t.reward for t in guesses) < 2


def test_reasoning_problems_mix_with_questions_and_purchases(tmp_path, monkeypatch):
    monkeypatch.setenv("ENVKIT_CACHE", str(tmp_path))
    shop = "shop:products=300,seed=1"
    env = gym.make(COMPOSITE_ENV_ID, sources=[SMALL_WORLD, "reasoning_gym:basic_arithmetic", shop], counts=[2, 3, 1])
    observation, info = env.reset(options={"task_index": 0})
    assert "Questions:" in observation and "Problems:" in observation and "Purchases:" in observation
    assert env.get_wrapper_attr("tags").actions == ("search", "answer", "action", "solve")
    trajectories = [run_episode(env, TaskOracle(), task_index=i) for i in range(8)]
    assert all(t.success for t in trajectories), [t.objective_scores for t in trajectories]
    assert all(t.reward == pytest.approx(1.0) and t.em_sum == 2 for t in trajectories)
    # one problem solved right is 1/6 of the reward; its objective's score sits at its place in the task
    env.reset(options={"task_index": 1})
    task = env.get_wrapper_attr("task")
    first = next(i for i, o in enumerate(task.objectives) if o.kind == "reasoning")
    _, reward, _, _, info = env.step(f"<IS>x</IS><solve>{task.objectives[first].golden_answers[0]}</solve>")
    assert reward == pytest.approx(1 / 6) and info["part"] == "reasoning"
    assert info["objective_scores"][first] == 1.0 and sum(info["objective_scores"]) == 1.0
    env.close()


def test_the_eval_harness_and_runner_play_it_unchanged():
    def make_env(**options):
        return gym.make(
            COMPOSITE_ENV_ID, sources=[SMALL_WORLD, "reasoning_gym:chain_sum"], counts=[1, 2], split="test", **options
        )

    cases = [EvalCase(3, builder, make_env) for builder in ("consolidated", "full")]
    rows = evaluate(cases, AgentPolicy(TaskOracle), episodes=4, batch_size=2)
    assert [r.success for r in rows] == [1.0, 1.0] and all(r.em_sum == 1.0 for r in rows)
    assert rows[0].peak_context_tokens < rows[1].peak_context_tokens
