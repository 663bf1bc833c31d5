import json

import pytest

from envkit.envs import QA_ENV_ID
from envkit.policy.base import AgentPolicy, Generation
from envkit.policy.scripted import OracleAgent, RandomAgent
from envkit.rollout.runner import OVER_BUDGET, RolloutRunner, env_factory
from envkit.rollout.trajectory import read_trajectories, write_trajectories
from tests.conftest import SMALL_WORLD


def qa(n=2, **kwargs):
    return env_factory(QA_ENV_ID, n_objectives=n, source=SMALL_WORLD, split="test", **kwargs)


def summary(trajectories):
    return [(t.task_index, t.reward, [(r.output, r.observation) for r in t.turns]) for t in trajectories]


def test_sync_and_batched_runs_give_the_same_episodes_in_task_order():
    with RolloutRunner(qa(3), AgentPolicy(OracleAgent)) as sync:
        one = sync.run(7)
    with RolloutRunner(qa(3), AgentPolicy(OracleAgent), batch_size=3) as batched:
        three = batched.run(7)
    assert [t.task_index for t in one] == list(range(7))
    assert summary(one) == summary(three)
    assert all(t.success and t.em_sum == 3 and t.terminated for t in one)


def test_repeated_task_indices_play_groups():
    with RolloutRunner(qa(), AgentPolicy(OracleAgent), batch_size=4) as runner:
        trajectories = runner.run([5, 5, 5, 9])
    assert [t.task_index for t in trajectories] == [5, 5, 5, 9]
    assert len({t.task_id for t in trajectories[:3]}) == 1


def test_every_turn_records_the_context_the_protocol_allowed():
    with RolloutRunner(qa(4, context="consolidated"), AgentPolicy(OracleAgent)) as runner:
        trajectory = runner.run(1)[0]
    first, *rest = trajectory.turns
    assert len(first.context) == 1 and first.context[0]["role"] == "user"
    for previous, turn in zip(trajectory.turns, rest, strict=False):
        # prompt + the latest turn only: the previous output and the env's reply to it
        assert turn.context == [
            first.context[0],
            {"role": "assistant", "content": previous.output},
            {"role": "user", "content": previous.observation},
        ]
        assert previous.action == "search" and previous.observation.startswith("<information>")
    assert trajectory.turns[-1].action == "answer"
    assert trajectory.turns[-1].action_content.count(";") == 3
    assert trajectory.peak_context_tokens == max(t.context_tokens for t in trajectory.turns)
    g = [t.generated_tokens for t in trajectory.turns]
    c = [t.context_tokens for t in trajectory.turns]
    assert trajectory.dependency == sum(gi * ci + gi * (gi - 1) // 2 for gi, ci in zip(g, c, strict=True))


def test_malformed_turns_are_recorded_violations_not_crashes():
    policy = AgentPolicy(lambda: RandomAgent(seed=3, malformed_rate=0.9))
    with RolloutRunner(qa(max_turns=10), policy, batch_size=5) as runner:
        trajectories = runner.run(10)
    assert sum(t.violations for t in trajectories) > 10
    violations = [turn for t in trajectories for turn in t.turns if turn.violation]
    assert all("Invalid turn" in turn.observation for turn in violations)
    assert all(len(t.turns) <= 10 for t in trajectories)


class OverBudget:
    """Refuses every context longer than 3 turns' worth (a budget the full context soon exceeds)."""

    def __init__(self, budget):
        self.oracle, self.budget = AgentPolicy(OracleAgent), budget

    def start(self, slot, task):
        self.oracle.start(slot, task)

    def act(self, requests):
        out = self.oracle.act(requests)
        return [
            g if g.context_tokens <= self.budget else Generation("", g.context_tokens, 0, 0.0, over_budget=True)
            for g in out
        ]


def test_a_context_over_budget_ends_the_episode_as_a_recorded_violation():
    with RolloutRunner(qa(4, context="full"), OverBudget(500)) as runner:
        trajectory = runner.run(1)[0]
    assert trajectory.budget_exceeded and trajectory.truncated and not trajectory.success
    assert trajectory.turns[-1].violation == OVER_BUDGET
    assert trajectory.turns[-1].context_tokens > 500
    assert all(t.context_tokens <= 500 for t in trajectory.turns[:-1])


def test_trajectory_files_round_trip_and_bad_lines_are_named(tmp_path):
    with RolloutRunner(qa(), AgentPolicy(OracleAgent)) as runner:
        trajectories = runner.run(3)
    path = tmp_path / "t.jsonl"
    assert write_trajectories(trajectories, path) == 3
    back = list(read_trajectories(path))
    assert [t.to_dict() for t in back] == [t.to_dict() for t in trajectories]
    record = json.loads(path.read_text().splitlines()[0])
    assert record["success"] and record["turns"][0]["context"][0]["role"] == "user"
    path.write_text(path.read_text() + "{not json\n")
    with pytest.raises(ValueError, match=r"t.jsonl:4: invalid JSON"):
        list(read_trajectories(path))


def test_a_model_policy_plays_batched_episodes(tiny):
    from envkit.policy.hf import GenerationSettings, HFPolicy

    tokenizer, model = tiny
    policy = HFPolicy(model, tokenizer, GenerationSettings(max_new_tokens=16, temperature=1.0), device="cpu", seed=0)
    with RolloutRunner(qa(max_turns=3), policy, batch_size=3) as runner:
        trajectories = runner.run(4)
    assert len(trajectories) == 4
    for trajectory in trajectories:
        assert 1 <= len(trajectory.turns) <= 3
        for turn in trajectory.turns:
            generation = turn.generation
            assert turn.context_tokens == len(generation.prompt_ids) == len(policy.encode(turn.context))
            assert turn.generated_tokens == len(generation.completion_ids) == len(generation.logprobs) <= 16
    record = trajectories[0].to_dict(token_ids=True)
    assert record["turns"][0]["completion_ids"] == trajectories[0].turns[0].generation.completion_ids


def test_the_constant_state_oracle_probe_still_succeeds_with_a_fixed_size_state():
    import re

    with RolloutRunner(qa(6), AgentPolicy(lambda: OracleAgent(carry_answers=False))) as runner:
        trajectory = runner.run(1)[0]
    assert trajectory.success
    states = {re.sub(r"\d+", "#", re.search(r"<IS>(.*)</IS>", t.output).group(1)) for t in trajectory.turns}
    assert states == {"Working on question #."}


class _Outage:
    """A retriever that goes down after a number of searches, until told it is back."""

    def __init__(self, inner, searches_before_outage):
        self.inner, self.left, self.down = inner, searches_before_outage, False

    def search(self, query, k=3):
        return self.batch_search([query], k)[0]

    def batch_search(self, queries, k=3):
        from envkit.retrieval.base import RetrieverError

        if self.left <= 0:
            self.down = True
        if self.down:
            raise RetrieverError("retrieval server at http://127.0.0.1:1 is unreachable")
        self.left -= 1
        return self.inner.batch_search(queries, k)

    def __deepcopy__(self, memo):  # shared, as envkit's retrievers are
        return self


def test_a_retrieval_outage_uses_no_turn_and_loses_no_finished_episode(tmp_path, small_retriever):
    """A failed step used a turn (14 lost in one run) and run() dropped every finished episode (52)."""
    import gymnasium as gym
    import pytest as _pytest

    from envkit.envs import QA_ENV_ID
    from envkit.policy.base import AgentPolicy
    from envkit.policy.scripted import OracleAgent
    from envkit.retrieval.base import RetrieverError
    from envkit.rollout.runner import RolloutRunner
    from envkit.rollout.trajectory import read_trajectories
    from tests.conftest import SMALL_WORLD

    flaky = _Outage(small_retriever, searches_before_outage=0)
    env = gym.make(QA_ENV_ID, source=SMALL_WORLD, n_objectives=2, retriever=flaky)
    env.reset(seed=0)
    with _pytest.raises(RetrieverError):
        env.step("<IS>x</IS><search>velmora</search>")
    flaky.down, flaky.left = False, 10**6
    *_, info = env.step("<IS>x</IS><search>velmora</search>")
    assert info["turn"] == 1  # the failed attempt was not the agent's turn

    flaky = _Outage(small_retriever, searches_before_outage=25)
    path = tmp_path / "trajectories.jsonl"

    def make():
        return gym.make(QA_ENV_ID, source=SMALL_WORLD, n_objectives=2, retriever=flaky, split="test")

    with RolloutRunner(make, AgentPolicy(OracleAgent)) as runner, _pytest.raises(RetrieverError):
        runner.run(8, stream_to=path)
    kept = list(read_trajectories(path))
    assert 1 <= len(kept) < 8 and all(t.success for t in kept)
    with _pytest.raises(FileExistsError, match="resume=True"):
        RolloutRunner(make, AgentPolicy(OracleAgent)).run(8, stream_to=path)
    flaky.down, flaky.left = False, 10**6  # the server is back
    with RolloutRunner(make, AgentPolicy(OracleAgent)) as runner:
        resumed = runner.run(8, stream_to=path, resume=True)
    assert [t.task_index for t in resumed] == list(range(8)) and all(t.success for t in resumed)
    assert sorted(t.task_index for t in read_trajectories(path)) == list(range(8))  # each once
