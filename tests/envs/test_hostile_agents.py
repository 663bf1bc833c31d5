"""Whatever an agent writes, every env answers with an observation inside its space, and memory stays bounded."""

from __future__ import annotations

import gymnasium as gym
import pytest

from envkit.envs import COMPOSITE_ENV_ID, QA_ENV_ID, TASKS_ENV_ID
from tests.conftest import SMALL_WORLD

SURROGATE = "\ud800"
HUGE = "<IS>" + "x" * 1_000_000 + "</IS><search>q</search>"


def _envs(tmp_path, monkeypatch):
    monkeypatch.setenv("ENVKIT_CACHE", str(tmp_path))
    yield "qa", gym.make(QA_ENV_ID, source=SMALL_WORLD, n_objectives=2)
    yield "shop", gym.make("envkit/WebShop-v0", shop="shop:products=300,seed=1")
    yield "composite", gym.make(COMPOSITE_ENV_ID, source=SMALL_WORLD, shop="shop:products=300,seed=1", n_questions=1)
    yield "reasoning", gym.make(TASKS_ENV_ID, source="reasoning_gym:chain_sum", n_objectives=2)


def test_lone_surrogates_never_raise_and_the_latest_turn_is_shown(tmp_path, monkeypatch):
    """A lone surrogate made env.step raise UnicodeEncodeError in the token counter, in every env."""
    pytest.importorskip("reasoning_gym")
    for name, env in _envs(tmp_path, monkeypatch):
        env.reset(seed=0)
        tag = env.get_wrapper_attr("tags").actions[0]
        observation, *_, info = env.step(f"<IS>notes {SURROGATE}</IS><{tag}>a{SURROGATE}b</{tag}>")
        assert "\ufffd" in info["messages"][-2]["content"], name  # the turn, echoed safely
        observation.encode("utf-8")  # every observation encodes
        _, *_, info = env.step(f"<IS>latest</IS><{tag}>second</{tag}>")
        assert "latest" in info["messages"][-2]["content"], name
        env.close()


def test_a_megabyte_turn_is_echoed_cut_and_observations_stay_inside_the_space(make_env):
    env = make_env(n_objectives=2, context="full")
    env.reset(seed=0)
    observation, _, _, _, info = env.step(HUGE)
    assert info["violation"] == "too_long" and env.observation_space.contains(observation)
    assert "more characters not shown" in info["messages"][-2]["content"]
    assert len(info["messages"][-2]["content"]) < 17_000


def test_a_context_longer_than_the_space_ends_the_episode_inside_it():
    env = gym.make(QA_ENV_ID, source=SMALL_WORLD, n_objectives=4, context="full", max_observation_chars=6000)
    env.reset(seed=0)
    for _ in range(20):
        observation, _, terminated, truncated, info = env.step("<IS>" + "n" * 900 + "</IS><search>velmora</search>")
        assert env.observation_space.contains(observation)
        if truncated:
            break
    assert info.get("context_overflow") and not terminated


def test_memory_follows_the_builder_not_the_episode(make_env):
    """Under consolidated the wrapper kept every past turn: 126 MB by the end of one hostile episode."""
    env = make_env(n_objectives=2, context="consolidated", max_turns=400)
    env.reset(seed=0)
    turn = "<IS>" + "y" * 16_000 + "</IS><search>q</search>"
    for _ in range(300):
        env.step(turn)
    held = env.get_wrapper_attr("_turn_messages")
    assert len(held) <= 2 and sum(len(m["content"]) for m in held) < 40_000
    window = make_env(n_objectives=2, context="window(3)", max_turns=400)
    window.reset(seed=0)
    for _ in range(50):
        *_, info = window.step(turn)
    assert len(window.get_wrapper_attr("_turn_messages")) <= 6 and len(info["messages"]) == 7


def test_an_async_vector_env_survives_any_agent_output():
    envs = gym.make_vec(
        QA_ENV_ID, num_envs=2, vectorization_mode="async", source=SMALL_WORLD, n_objectives=2, context="full"
    )
    try:
        envs.reset(seed=0)
        for turn in (HUGE, f"<IS>{SURROGATE}</IS><search>{SURROGATE}</search>", "\x00" * 50_000, HUGE):
            observations, *_ = envs.step((turn, turn))
            assert all(envs.single_observation_space.contains(str(o)) for o in observations)
    finally:
        envs.close()


@pytest.mark.slow
def test_envs_refuse_pickling_in_one_line_and_spawned_workers_build_their_own(make_env):
    import copy
    import pickle

    env = make_env(n_objectives=2)
    with pytest.raises(TypeError, match=r"MultiObjectiveQAEnv holds process-local resources .* send a factory"):
        pickle.dumps(env)
    twin = copy.deepcopy(env)  # state copied, the retriever shared
    twin.reset(seed=0)
    assert twin.get_wrapper_attr("retriever") is env.get_wrapper_attr("retriever")
    envs = gym.make_vec(
        QA_ENV_ID,
        num_envs=2,
        vectorization_mode="async",
        vector_kwargs={"context": "spawn"},  # each worker process builds its env from the registered id
        source=SMALL_WORLD,
        n_objectives=2,
    )
    try:
        observations, _ = envs.reset(seed=0)
        assert all("Questions:" in str(o) for o in observations)
    finally:
        envs.close()
