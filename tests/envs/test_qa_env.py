import json

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

from composers import compose
from envkit.envs import QA_ENV_ID, FormatPenalty, MultiObjectiveQAEnv, ProtocolContext
from envkit.policy import OracleAgent, RandomAgent
from envkit.protocol.tags import QA_TAGS
from envkit.retrieval import Passage, RetrieverError
from envkit.rollout.episode import run_episode
from tests.conftest import SMALL_WORLD


def test_passes_gymnasium_env_checker(make_env):
    env = make_env(n_objectives=3)
    check_env(env.unwrapped, skip_render_check=True)


def test_reset_is_deterministic_in_the_seed(make_env):
    env = make_env(n_objectives=4)
    first, _ = env.reset(seed=11)
    again, _ = env.reset(seed=11)
    other, _ = env.reset(seed=12)
    assert first == again != other


@pytest.mark.parametrize("context", ["consolidated", "full", "window(2)"])
@pytest.mark.parametrize("strategy", ["parallel", "chained"])
@pytest.mark.parametrize("split", ["train", "test"])
def test_oracle_reaches_reward_one(make_env, context, strategy, split):
    env = make_env(n_objectives=4, context=context, strategy=strategy, split=split)
    agent = OracleAgent()
    for index in range(15):
        result = run_episode(env, agent, task_index=index)
        assert agent.reached, "the retriever returned every supporting passage"
        assert result.reward == 1.0 and result.success and result.em_sum == 4
        assert result.violations == 0


def test_consolidated_context_stays_small_while_full_grows(make_env):
    peaks = {}
    for context in ("consolidated", "full"):
        env = make_env(n_objectives=8, context=context, split="test")
        result = run_episode(env, OracleAgent(), task_index=0)
        peaks[context] = result.peak_context_tokens
        per_turn = [turn.context_tokens for turn in result.turns]  # one context per generated turn
        if context == "full":
            assert per_turn == sorted(per_turn) and per_turn[-1] > 3 * per_turn[0]
    assert peaks["full"] > 3 * peaks["consolidated"]


def test_context_shows_only_what_the_builder_retains(make_env):
    env = make_env(n_objectives=2, context="consolidated")
    env.reset(seed=0)
    env.step(QA_TAGS.format_turn("s1", "search", "first query"))
    observation, *_, info = env.step(QA_TAGS.format_turn("s2", "search", "second query"))
    assert "second query" in observation and "first query" not in observation
    assert [m["role"] for m in info["messages"]] == ["user", "assistant", "user"]
    assert info["context_builder"] == "consolidated"


def test_search_returns_information_with_k_passages(make_env, small_source):
    env = make_env(n_objectives=1, top_k=2)
    env.reset(seed=0)
    name = small_source.world.name(10)
    _, reward, terminated, truncated, info = env.step(QA_TAGS.format_turn("x", "search", name))
    message = env.unwrapped._last
    assert message.startswith("<information>Doc 1(Title: ") and message.endswith("</information>")
    assert info["action"] == "search" and info["query"] == name
    assert info["retrieved_ids"][0] == "10" and len(info["retrieved_ids"]) == 2
    assert (reward, terminated, truncated) == (0.0, False, False)


def test_malformed_turns_are_observations_not_crashes(make_env):
    env = make_env(n_objectives=2)
    env.reset(seed=0)
    for turn in ["", "<search>q</search>", "<IS>a</IS><lookup>q</lookup>", "\x00" * 5, "<IS>x</IS>" * 3]:
        _, reward, terminated, _, info = env.step(turn)
        assert info["violation"] is not None and not terminated and reward == 0.0
        assert info["violation_message"] in env.unwrapped._last
    _, _, _, _, info = env.unwrapped.step(12345)
    assert info["violation"] == "not_text"
    _, _, _, _, info = env.unwrapped.step("<IS>a</IS><search>" + "q" * 20_000 + "</search>")
    assert info["violation"] == "too_long"


def test_random_agent_never_crashes_any_builder(make_env):
    for context in ("consolidated", "full", "window(3)"):
        env = make_env(n_objectives=3, context=context, max_turns=12)
        agent = RandomAgent(seed=7)
        violations = 0
        for episode in range(40):
            result = run_episode(env, agent, seed=episode)
            violations += result.violations
            assert len(result.turns) <= 12
        assert violations > 0


def test_truncated_at_max_turns(make_env):
    env = make_env(n_objectives=2, max_turns=3)
    env.reset(seed=1)
    outcomes = [env.step(QA_TAGS.format_turn("x", "search", "anything"))[2:4] for _ in range(3)]
    assert outcomes == [(False, False), (False, False), (False, True)]
    with pytest.raises(RuntimeError, match="call reset"):
        env.unwrapped.step("<IS>x</IS><search>q</search>")


def test_default_max_turns_scales_with_n(make_env):
    env = make_env(n_objectives=5)
    env.reset(seed=0)
    truncated, turns = False, 0
    while not truncated:
        truncated = env.step(QA_TAGS.format_turn("x", "search", "q"))[3]
        turns += 1
    assert turns == 4 * 5 + 4


def answer_for(env, correct):
    task = env.unwrapped.task
    answers = [o.golden_answers[0] if ok else "wrong" for o, ok in zip(task.objectives, correct, strict=False)]
    return QA_TAGS.format_turn("done", "answer", "; ".join(answers))


@pytest.mark.parametrize(("reward_mode", "expected"), [("mean", 0.5), ("sum", 2.0), ("all", 0.0)])
def test_reward_aggregation(make_env, reward_mode, expected):
    env = make_env(n_objectives=4, reward=reward_mode)
    env.reset(seed=3)
    _, reward, terminated, _, info = env.step(answer_for(env, [True, False, True, False]))
    assert terminated and reward == expected
    assert info["objective_em"] == [1.0, 0.0, 1.0, 0.0]
    assert (info["em_sum"], info["em_mean"]) == (2.0, 0.5)


def test_f1_metric_and_numbered_answers(make_env):
    env = make_env(n_objectives=2, metric="f1")
    env.reset(seed=3)
    task = env.unwrapped.task
    gold = [o.golden_answers[0] for o in task.objectives]
    turn = QA_TAGS.format_turn("done", "answer", f"1. {gold[0]} extra\n2. {gold[1]}")
    _, reward, _, _, info = env.step(turn)
    assert info["objective_em"] == [0.0, 1.0]
    assert 0.5 < info["objective_f1"][0] < 1.0 and reward == pytest.approx(sum(info["objective_f1"]) / 2)


def test_missing_answers_score_zero(make_env):
    env = make_env(n_objectives=3)
    env.reset(seed=0)
    first = env.unwrapped.task.objectives[0].golden_answers[0]
    _, reward, _, _, info = env.step(QA_TAGS.format_turn("x", "answer", first))
    assert info["objective_em"] == [1.0, 0.0, 0.0] and reward == pytest.approx(1 / 3)
    assert "got 1 answers for 3 questions" in env.unwrapped._last


def test_format_penalty_wrapper(make_env):
    env = make_env(n_objectives=1, format_penalty=0.25)
    env.reset(seed=0)
    assert env.step("no tags at all")[1] == -0.25
    assert env.step(QA_TAGS.format_turn("x", "search", "q"))[1] == 0.0
    with pytest.raises(ValueError):
        FormatPenalty(env, -1)


def test_env_from_a_task_file_rebuilds_its_world(tmp_path):
    path = tmp_path / "suite.jsonl"
    compose(SMALL_WORLD, "chained", n_objectives=3, count=5, split="test", seed=4).write(path)
    env = gym.make(QA_ENV_ID, task_file=path)
    for index in range(5):
        result = run_episode(env, OracleAgent(), task_index=index)
        assert result.success
    assert env.unwrapped.tasks[0].id == json.loads(path.read_text().splitlines()[0])["id"]


def test_custom_retriever_and_unicode_text():
    class Echo:
        def search(self, query, k=3):
            return [Passage("1", "Zürich", f"Beyoncé met {query} in Zürich.")]

        def batch_search(self, queries, k=3):
            return [self.search(q, k) for q in queries]

    tasks = compose(SMALL_WORLD, "parallel", 1, 3)
    env = ProtocolContext(MultiObjectiveQAEnv(tasks, Echo()))
    env.reset(seed=0)
    observation, *_ = env.step(QA_TAGS.format_turn("ü", "search", "Ωmega"))
    assert "Beyoncé met Ωmega in Zürich." in observation
    assert env.observation_space.contains(observation)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_vector_envs(mode):
    envs = gym.make_vec(QA_ENV_ID, num_envs=2, vectorization_mode=mode, source=SMALL_WORLD, n_objectives=2)
    try:
        observations, infos = envs.reset(seed=[1, 2])
        assert len(observations) == 2 and all("Questions:" in o for o in observations)
        actions = ["<IS>ü</IS><search>Zürich harbour</search>", "not a turn"]
        observations, _rewards, _terminated, _truncated, infos = envs.step(actions)
        assert "Doc 1(Title:" in observations[0] or "No results" in observations[0]
        assert "Invalid turn" in observations[1]
        assert list(infos["violation"]) == [None, "missing_state"]
    finally:
        envs.close()


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"top_k": 0}, "top_k"),
        ({"max_turns": 0}, "max_turns"),
        ({"metric": "bleu"}, "unknown metric"),
        ({"reward": "max"}, "unknown reward"),
        ({"context": "everything"}, "unknown context builder"),
        ({"retriever": "faiss9"}, "unknown retriever"),
        ({"render_mode": "rgb_array"}, "render mode"),
    ],
)
def test_bad_env_settings_fail_at_construction(make_env, kwargs, error):
    with pytest.raises((ValueError, RetrieverError), match=error):
        make_env(n_objectives=2, **kwargs)


@pytest.mark.parametrize("context", ["consolidated", "full", "window(3)"])
def test_wrapper_context_equals_the_reference_builder(make_env, context):
    from envkit.protocol.context import PastTurn, build_messages, make_context_builder, render_messages
    from envkit.protocol.tokens import count_word_pieces

    env = make_env(n_objectives=3, context=context, max_turns=30)
    agent = RandomAgent(seed=3, answer_rate=0.0)
    observation, info = env.reset(seed=5)
    agent.reset(env.unwrapped.task)
    prompt, turns = info["messages"][0]["content"], []
    for _ in range(8):
        action = agent.act(observation, info)
        observation, _, _, _, info = env.step(action)
        turns.append(PastTurn(action, env.unwrapped._last))
        expected = build_messages(prompt, turns, make_context_builder(context))
        assert info["messages"] == expected
        assert observation == render_messages(expected)
        assert info["context_tokens"] == sum(count_word_pieces(m["content"]) for m in expected)


def test_the_turns_left_hint_follows_mem1s_rollout(make_env):
    from envkit.envs.wrappers import turns_left_hint

    env = make_env(n_objectives=1, max_turns=3, turns_left_hint=True, context="full")
    env.reset(options={"task_index": 0})
    query = env.get_wrapper_attr("task").objectives[0].queries[0]
    *_, info = env.step(f"<IS>x</IS><search>{query}</search>")
    assert info["messages"][-1]["content"].startswith("<information>[HINT]You have 2 turns left.[/HINT]\n\nDoc 1(")
    *_, info = env.step("<IS>x</IS><search>else</search>")
    expected = "[HINT]You have 1 turn left. You must answer the question in the next turn.[/HINT]"
    assert info["messages"][-1]["content"].startswith(f"<information>{expected}\n\n")
    *_, truncated, info = env.step("<IS>x</IS><search>more</search>")
    assert truncated and "[HINT]" not in info["messages"][-1]["content"]
    assert turns_left_hint(0) == "" and turns_left_hint(5) == "[HINT]You have 5 turns left.[/HINT]"
    plain = make_env(n_objectives=1)
    plain.reset(options={"task_index": 0})
    assert "[HINT]" not in plain.step("<IS>x</IS><search>anything</search>")[0]
