"""Episode rewards as TRL reward functions.

TRL calls each reward function with the prompts, the completions and every extra column
of the batch as keyword arguments; the MEM1 trainer passes each episode's summary
(``env_reward``, ``violations``, ``turns``, ``em_sum``...). A user adds a reward by
writing one more such function (``reward_funcs=[env_reward, my_reward]``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["env_reward", "format_reward"]


def env_reward(
    prompts: Sequence[Any], completions: Sequence[Any], env_reward: Sequence[float], **_: Any
) -> list[float]:
    """The env's own reward for the episode (EM or F1 per objective, aggregated as the env says)."""
    return [float(r) for r in env_reward]


def format_reward(
    prompts: Sequence[Any], completions: Sequence[Any], violations: Sequence[int], turns: Sequence[int], **_: Any
) -> list[float]:
    """1 minus the share of the episode's turns that broke the protocol (MEM1's format reward, per turn)."""
    return [1.0 - v / t if t else 0.0 for v, t in zip(violations, turns, strict=True)]
