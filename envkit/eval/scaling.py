"""How success and context size scale with the number of objectives N.

This is MEM1's headline measurement: run an agent on N-objective tasks for several N
under several context builders, and compare success with peak context tokens. The
``envkit demo`` command runs it with the oracle on the bundled world.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import gymnasium as gym

from envkit.envs import QA_ENV_ID
from envkit.policy.scripted import Agent, OracleAgent
from envkit.rollout.episode import EpisodeResult, run_episode

__all__ = ["ScalingRow", "context_scaling"]


@dataclass(frozen=True, slots=True)
class ScalingRow:
    """Aggregates of ``episodes`` episodes at one N under one context builder."""

    n_objectives: int
    builder: str
    episodes: int
    success: float
    em_sum: float
    em_mean: float
    peak_context_tokens: float  # median over episodes
    turns: float  # mean over episodes


def context_scaling(
    ns: Sequence[int] = (1, 2, 4, 8, 16),
    builders: Sequence[str] = ("consolidated", "full"),
    episodes: int = 20,
    source: str = "synthetic",
    split: str = "test",
    seed: int = 0,
    agent_factory: Callable[[], Agent] = OracleAgent,
    on_episode: Callable[[], None] | None = None,
) -> list[ScalingRow]:
    """Run ``episodes`` episodes per (N, builder); episode ``i`` plays task ``i`` for every builder."""
    rows: list[ScalingRow] = []
    for n in ns:
        for builder in builders:
            env = gym.make(QA_ENV_ID, n_objectives=n, source=source, split=split, seed=seed, context=builder)
            agent = agent_factory()
            results: list[EpisodeResult] = []
            for index in range(episodes):
                results.append(run_episode(env, agent, task_index=index))
                if on_episode is not None:
                    on_episode()
            env.close()
            rows.append(
                ScalingRow(
                    n_objectives=n,
                    builder=builder,
                    episodes=episodes,
                    success=statistics.fmean(r.success for r in results),
                    em_sum=statistics.fmean(r.em_sum for r in results),
                    em_mean=statistics.fmean(r.em_mean for r in results),
                    peak_context_tokens=statistics.median(r.peak_context_tokens for r in results),
                    turns=statistics.fmean(r.turns for r in results),
                )
            )
    return rows
