"""One agent, one episode: the rollout runner with a batch of one.

There is one episode loop in envkit, :class:`~envkit.rollout.runner.RolloutRunner`;
:func:`run_episode` plays a scripted :class:`~envkit.policy.scripted.Agent` through it
on an env you already hold and returns the same
:class:`~envkit.rollout.trajectory.Trajectory` every rollout, eval and training run
records, so an episode scores the same wherever it is played.
"""

from __future__ import annotations

import gymnasium as gym

from envkit.policy.base import AgentPolicy
from envkit.policy.scripted import Agent
from envkit.rollout.runner import RolloutRunner
from envkit.rollout.trajectory import Trajectory

__all__ = ["run_episode"]


def run_episode(
    env: gym.Env[str, str], agent: Agent, seed: int | None = None, task_index: int | None = None
) -> Trajectory:
    """Play one episode of ``env`` with ``agent`` (handed the task at reset, as scripted agents are).

    ``task_index`` picks the task, else the env draws one (seeded by ``seed`` when
    given). The env is left open.
    """
    runner = RolloutRunner(lambda: env, AgentPolicy(lambda: agent), batch_size=1, seed=seed)
    (trajectory,) = runner.run([task_index])
    return trajectory
