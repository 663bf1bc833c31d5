from __future__ import annotations

import random

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

from envkit.envs import COMPOSITE_ENV_ID, SHOP_ENV_ID
from envkit.kinds.oracle import TaskOracle
from envkit.policy.scripted import ShopOracleAgent
from envkit.protocol.tags import SHOP_TAGS
from envkit.rollout.episode import run_episode
from tests.shop.conftest import SMALL_SHOP


def turn(action: str) -> str:
    return SHOP_TAGS.format_turn("notes", "action", action)


@pytest.fixture
def shop_env(small_shop):
    env = gym.make(SHOP_ENV_ID, shop=SMALL_SHOP)
    yield env
    env.close()


def test_the_oracle_buys_every_goal_with_reward_one(shop_env, small_shop):
    oracle = ShopOracleAgent(small_shop)
    results = [run_episode(shop_env, oracle, task_index=i) for i in range(60)]
    assert [r.reward for r in results] == [1.0] * 60
    assert all(r.violations == 0 and not r.truncated for r in results)


def test_a_purchase_is_scored_and_ends_the_episode(shop_env, small_shop):
    observation, info = shop_env.reset(options={"task_index": 0})
    goal = small_shop.source.goal(shop_env.unwrapped.task.objectives[0].id)
    assert goal.instruction_text in observation and info["page"] == "search"
    observation, reward, terminated, _, info = shop_env.step(turn(f"search[{goal.name}]"))
    assert info["page"] == "results" and f"click[{goal.asin.lower()}]" in info["available_actions"]
    _, _, _, _, info = shop_env.step(turn(f"click[{goal.asin}]"))
    assert info["page"] == "item"
    _, reward, terminated, _, info = shop_env.step(turn("click[buy now]"))  # no options chosen
    n_attrs, n_opts = len(goal.attributes), len(goal.goal_options)
    assert terminated and reward == pytest.approx((n_attrs + 1) / (n_attrs + n_opts + 1))
    assert info["goal_rewards"] == [reward] and "Your score" in shop_env.unwrapped._last


def test_bad_turns_and_actions_are_observations(shop_env):
    shop_env.reset(options={"task_index": 1})
    cases = {
        "<action>search[x]</action>": "missing_state",
        turn("buy everything"): "invalid_action",
        turn("search[]"): "invalid_action",
        "\x00<<<": "missing_state",
    }
    for action, kind in cases.items():
        _observation, reward, terminated, _truncated, info = shop_env.step(action)
        assert info["violation"] == kind and reward == 0.0 and not terminated
        assert "Invalid" in shop_env.unwrapped._last
    _, _, _, _, info = shop_env.step(turn("click[next >]"))
    assert info["violation"] is None and info["refused"] == "click[next >] is not on this page"
    _, _, _, _, info = shop_env.step(turn("search[running shoes]"))
    _, _, _, _, info = shop_env.step(turn("search[again]"))
    assert "search page only" in info["refused"]


def test_random_and_malformed_turns_never_crash_the_shop(shop_env):
    rng = random.Random(3)
    junk = ["", "<IS>", "click[", "<IS>x</IS><action>click[]]]</action>", "\ufffd" * 30, "<action>a</action>" * 3]
    steps = 0
    for i in range(40):
        _, info = shop_env.reset(options={"task_index": i})
        done = False
        while not done:
            if rng.random() < 0.3:
                action = rng.choice(junk)
            else:
                choice = rng.choice(info.get("available_actions") or ["click[nothing]"])
                action = turn(choice.replace("<query>", rng.choice(["shoes", "tea", "<b>", "]"])))
            _, reward, terminated, truncated, info = shop_env.step(action)
            assert 0.0 <= reward <= 1.0
            done, steps = terminated or truncated, steps + 1
    assert steps > 100


def test_the_shop_env_passes_gymnasiums_checker(small_shop):
    env = gym.make(SHOP_ENV_ID, shop=SMALL_SHOP).unwrapped
    check_env(env, skip_render_check=True)


def test_episodes_with_several_purchases_buy_in_order(small_shop):
    env = gym.make(SHOP_ENV_ID, shop=SMALL_SHOP, n_goals=3)
    oracle = ShopOracleAgent(small_shop)
    result = run_episode(env, oracle, task_index=2)
    assert result.reward == pytest.approx(1.0) and len(result.turns) >= 9


def test_composite_episodes_answer_questions_and_buy(small_shop):
    env = gym.make(COMPOSITE_ENV_ID, source="synthetic:passages=2000,seed=3", shop=SMALL_SHOP, n_questions=2)
    oracle = TaskOracle()
    results = [run_episode(env, oracle, task_index=i) for i in range(25)]
    assert [r.reward for r in results] == pytest.approx([1.0] * 25)
    # the QA part alone gives 2/3 of the reward: answer right, then buy nothing
    _observation, info = env.reset(options={"task_index": 0})
    task = env.unwrapped.task
    answers = "; ".join(o.golden_answers[0] for o in task.objectives if o.kind == "qa")
    _, reward, terminated, _, info = env.step(f"<IS>x</IS><answer>{answers}</answer>")
    assert reward == pytest.approx(2 / 3) and not terminated and info["part"] == "qa"
    _, reward, _, _, info = env.step("<IS>x</IS><answer>again</answer>")
    assert reward == 0 and info["refused"] == "the questions are already done"
    _, _, _, _, info = env.step("<IS>x</IS><action>search[anything]</action>")
    assert info["part"] == "shop" and info["page"] == "results"


def test_composite_task_files_play(tmp_path, small_shop):
    from composers import compose

    path = tmp_path / "mixed.jsonl"
    compose(["synthetic:passages=2000,seed=3", SMALL_SHOP], "mixed", 3, 5, counts=(1, 2)).write(path)
    env = gym.make(COMPOSITE_ENV_ID, task_file=path)
    result = run_episode(env, TaskOracle(), task_index=4)
    assert result.reward == pytest.approx(1.0)


def test_the_oracle_falls_back_to_the_top_result_when_its_product_is_not_found(shop_env, small_shop):
    from dataclasses import replace

    oracle = ShopOracleAgent(small_shop)
    observation, info = shop_env.reset(options={"task_index": 0})
    oracle.reset(shop_env.unwrapped.task)
    oracle._goals = [replace(g, name="zzzz qqqq", asin="B0NOTINSHOP") for g in oracle._goals]
    done, actions = False, []
    while not done:
        action = oracle.act(observation, info)
        actions.append(action)
        observation, _, terminated, truncated, info = shop_env.step(action)
        done = terminated or truncated
    assert terminated and not truncated and len(actions) <= 8
    assert any("search[" in a for a in actions[1:])  # searched again by product type
