"""Run one agent for one episode and summarise what happened.

:class:`EpisodeResult` holds what eval tables need: the reward, EM/F1 (sum and mean,
since MEM1 reports the sum), success, turns, violations and the context accounting
(peak and per-turn tokens) recorded by :class:`~envkit.envs.wrappers.ProtocolContext`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym

from envkit.policy.scripted import Agent

__all__ = ["EpisodeResult", "run_episode"]


@dataclass(slots=True)
class EpisodeResult:
    """Outcome of one episode."""

    task_id: str
    n_objectives: int
    reward: float = 0.0
    turns: int = 0
    answered: bool = False
    truncated: bool = False
    em_sum: float = 0.0
    em_mean: float = 0.0
    f1_mean: float = 0.0
    violations: int = 0
    peak_context_tokens: int = 0
    context_tokens_per_turn: list[int] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def success(self) -> bool:
        """Every objective answered exactly."""
        return self.answered and self.em_mean == 1.0


def run_episode(
    env: gym.Env[str, str], agent: Agent, seed: int | None = None, task_index: int | None = None
) -> EpisodeResult:
    """Play one episode of ``env`` with ``agent`` (scripted agents get the task)."""
    options = None if task_index is None else {"task_index": task_index}
    observation, info = env.reset(seed=seed, options=options)
    task = env.unwrapped.task  # type: ignore[attr-defined]
    agent.reset(task)
    result = EpisodeResult(task_id=task.id, n_objectives=task.n_objectives)
    done = False
    while not done:
        observation, reward, terminated, truncated, info = env.step(agent.act(observation, info))
        result.reward += float(reward)
        result.turns += 1
        result.violations += info.get("violation") is not None
        done = terminated or truncated
        result.truncated = truncated
    if info.get("action") == "answer":
        result.answered = True
        result.em_sum, result.em_mean, result.f1_mean = info["em_sum"], info["em_mean"], info["f1_mean"]
    result.peak_context_tokens = int(info.get("peak_context_tokens", 0))
    result.context_tokens_per_turn = list(info.get("context_tokens_per_turn", ()))
    return result
