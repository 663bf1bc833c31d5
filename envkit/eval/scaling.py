"""How success and context size scale with the number of objectives N.

This is MEM1's headline measurement: run an agent on N-objective tasks for several N
under several context builders, and compare success with peak context tokens. The
``envkit demo`` command runs it with the oracle on the bundled world. It is the eval
harness with one case per (N, builder) over composed QA tasks, so its rows are
:class:`~envkit.eval.harness.EvalRow` s like every other evaluation's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import gymnasium as gym

from envkit.envs import QA_ENV_ID
from envkit.eval.harness import EvalCase, EvalRow, evaluate
from envkit.policy.base import AgentPolicy
from envkit.policy.scripted import Agent, OracleAgent

__all__ = ["context_scaling"]


def context_scaling(
    ns: Sequence[int] = (1, 2, 4, 8, 16),
    builders: Sequence[str] = ("consolidated", "full"),
    episodes: int = 20,
    source: str = "synthetic",
    split: str = "test",
    seed: int = 0,
    agent_factory: Callable[[], Agent] = OracleAgent,
    on_episode: Callable[[], None] | None = None,
) -> list[EvalRow]:
    """Run ``episodes`` episodes per (N, builder); episode ``i`` plays task ``i`` for every builder."""
    cases = [
        EvalCase(n, builder, partial(gym.make, QA_ENV_ID, n_objectives=n, source=source, split=split, seed=seed))
        for n in ns
        for builder in builders
    ]
    callback = None if on_episode is None else (lambda case, trajectory: on_episode())
    return evaluate(cases, AgentPolicy(agent_factory), episodes, on_episode=callback)
