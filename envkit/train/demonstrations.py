"""Demonstrations: oracle episodes as the token ids a model would have read and written.

Supervised warm-up imitates the scripted oracle, which writes perfect protocol turns
and whose state says what it found and what it searches next. Each episode is played
through the same env, protocol and context builder as a rollout, and every turn is
recorded as :class:`~envkit.packing.TurnTokens`: its context rendered with the
model's chat template exactly as :class:`~envkit.policy.hf.HFPolicy` would render it,
and the oracle's text as the completion a model generating until the action's closing
tag would produce. Packed as masked trajectories, each turn then trains on exactly the
context the protocol gave it, for any context builder.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import gymnasium as gym
from datasets import Dataset

from envkit.kinds.oracle import TaskOracle
from envkit.packing import TurnTokens
from envkit.policy.base import AgentPolicy
from envkit.policy.hf import encode_context
from envkit.rollout.runner import RolloutRunner
from envkit.rollout.trajectory import Trajectory

__all__ = ["demonstration_dataset", "demonstration_turns", "oracle_trajectories"]


def oracle_trajectories(
    make_env: Callable[[], gym.Env[str, str]],
    episodes: int | Sequence[int],
    batch_size: int = 8,
    seed: int = 0,
    state_tag: str = "IS",
) -> list[Trajectory]:
    """The oracle's episodes of the env ``make_env`` builds (a count: tasks 0..count-1, or task indices).

    ``state_tag`` is the state tag of the env's protocol (the oracle writes it).
    """
    with RolloutRunner(make_env, AgentPolicy(partial(TaskOracle, state_tag)), batch_size, seed=seed) as runner:
        count = episodes if not isinstance(episodes, int) else range(min(episodes, runner.n_tasks))
        return runner.run(count)


def demonstration_turns(trajectory: Trajectory, tokenizer: Any, answer_weight: float = 1.0) -> list[TurnTokens]:
    """An episode's turns as token ids: each context as the model reads it, each turn as it would write it.

    A turn that ends the episode (the answer) gets the loss weight ``answer_weight``:
    an N-objective episode has one answer turn against several searches, and a model
    that never learns to stop searching scores nothing.
    """
    turns = []
    last = len(trajectory.turns) - 1
    for index, turn in enumerate(trajectory.turns):
        completion = tokenizer(turn.output, add_special_tokens=False)["input_ids"]
        weight = answer_weight if index == last and trajectory.terminated else 1.0
        turns.append(TurnTokens(encode_context(tokenizer, turn.context), completion, [0.0] * len(completion), weight))
    return turns


def demonstration_dataset(trajectories: Sequence[Trajectory], tokenizer: Any, answer_weight: float = 1.0) -> Dataset:
    """One row per episode: ``prompt_ids``, ``completion_ids`` and ``weights``, one entry per turn."""
    episodes = [demonstration_turns(t, tokenizer, answer_weight) for t in trajectories]
    return Dataset.from_dict(
        {
            "prompt_ids": [[t.prompt_ids for t in turns] for turns in episodes],
            "completion_ids": [[t.completion_ids for t in turns] for turns in episodes],
            "weights": [[t.weight for t in turns] for turns in episodes],
        }
    )
