"""One episode, two paths: an adapter must show the agent what the Gymnasium env shows it.

Every adapter (an OpenEnv server, a TRL environment, ...) plays envkit's envs through
another library's code. :func:`reference_episode` plays one task of an env directly
through Gymnasium with the scripted oracle (or any turns given), recording each step;
an adapter's test replays the same turns through its own path and hands the steps it
saw to :func:`assert_same_episode`, which checks the observations, rewards and episode
ends agree step by step (rewards to 1e-9).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym

__all__ = ["EpisodeStep", "assert_same_episode", "latest_message", "oracle_turns", "reference_episode"]


@dataclass(frozen=True, slots=True)
class EpisodeStep:
    """What the agent saw after one turn (for ``reset``: the first observation, reward 0, not done).

    ``observation`` is the whole context the protocol shows; ``latest`` only what this
    step added (the newest message: the passages of a search, a verdict), which is what
    a tool-calling adapter returns from a tool.
    """

    observation: str
    reward: float
    done: bool
    latest: str = ""


def latest_message(info: dict[str, Any]) -> str:
    """The newest message of a step's context (what the step added), from the env's ``info``."""
    messages = info.get("messages") or []
    return str(messages[-1]["content"]) if messages else ""


def oracle_turns(make_env: Callable[[], gym.Env[str, str]], task_index: int, seed: int = 0) -> list[str]:
    """The scripted oracle's turns on one task of the env (its own state tag, whatever the protocol)."""
    from envkit.kinds.oracle import TaskOracle
    from envkit.rollout.episode import run_episode

    env = make_env()
    try:
        oracle = TaskOracle(env.get_wrapper_attr("tags").state)
        trajectory = run_episode(env, oracle, seed=seed, task_index=task_index)
        return [turn.output for turn in trajectory.turns]
    finally:
        env.close()


def reference_episode(
    make_env: Callable[[], gym.Env[str, str]], task_index: int, turns: Sequence[str], seed: int = 0
) -> list[EpisodeStep]:
    """The steps the Gymnasium env itself gives for ``turns`` on one task (stops at the episode's end)."""
    env = make_env()
    try:
        observation, info = env.reset(seed=seed, options={"task_index": task_index})
        steps = [EpisodeStep(observation, 0.0, False, latest_message(info))]
        for turn in turns:
            observation, reward, terminated, truncated, info = env.step(turn)
            steps.append(EpisodeStep(observation, float(reward), bool(terminated or truncated), latest_message(info)))
            if terminated or truncated:
                break
        return steps
    finally:
        env.close()


def assert_same_episode(
    reference: Sequence[EpisodeStep], candidate: Sequence[Any], path: str, shown: str = "observation"
) -> None:
    """Fail, naming the first step that differs, unless ``candidate`` shows what ``reference`` does.

    ``candidate`` holds :class:`EpisodeStep` s or anything with the ``shown`` attribute
    (``observation``: the whole context; ``latest``: what each step added), ``reward``
    and ``done`` (an adapter's own result objects).
    """
    if len(candidate) != len(reference):
        raise AssertionError(f"{path}: {len(candidate)} steps, the Gymnasium env took {len(reference)}")
    for index, (want, got) in enumerate(zip(reference, candidate, strict=True)):
        where = "reset" if index == 0 else f"step {index}"
        if getattr(got, shown) != getattr(want, shown):
            both = f"{getattr(got, shown)!r}\n!=\n{getattr(want, shown)!r}"
            raise AssertionError(f"{path}, {where}: {shown} differs:\n{both}")
        if not math.isclose(float(got.reward or 0.0), want.reward, abs_tol=1e-9):
            raise AssertionError(f"{path}, {where}: reward {got.reward} != {want.reward}")
        if bool(got.done) != want.done:
            raise AssertionError(f"{path}, {where}: done {got.done} != {want.done}")
