"""What every envkit env does the same way at the edges of a step: pick a task, read a turn, render it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np

from envkit.protocol.parser import Turn, Violation, ViolationKind, parse_turn, safe_text
from envkit.protocol.tags import TagSet

__all__ = ["ProcessLocal", "choose_task", "read_turn", "render_turn", "too_long_to_read"]

_NOT_PICKLABLE = (
    "{name} holds process-local resources (an open index, a database, a browser) and is not pickled: "
    "send a factory to the worker instead, e.g. functools.partial(gym.make, ENV_ID, **options), as "
    "gym.make_vec(..., vectorization_mode='async') and Ray actors do"
)


class ProcessLocal:
    """Envs that live in one process: pickling says so in one line; ``deepcopy`` shares what may be shared.

    Spawn-based vector envs and Ray build an env in each worker from a factory; an env
    itself holds indexes, SQLite connections and browsers that cannot travel. A deep
    copy (what ``gym.make`` does to its keyword arguments, and some tools do to envs)
    copies the env's state and shares its read-only services (retrievers return
    themselves); a service that cannot be shared makes it fail with the same message.
    """

    def __reduce_ex__(self, protocol: Any) -> Any:
        raise TypeError(_NOT_PICKLABLE.format(name=type(self).__name__))

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        import copy

        clone = type(self).__new__(type(self))
        memo[id(self)] = clone
        try:
            for key, value in vars(self).items():
                setattr(clone, key, copy.deepcopy(value, memo))
        except TypeError:
            raise TypeError(_NOT_PICKLABLE.format(name=type(self).__name__)) from None
        return clone


def choose_task(rng: np.random.Generator, n_tasks: int, options: Mapping[str, Any] | None) -> int:
    """``options["task_index"]`` when given (checked), else a task drawn with the env's generator."""
    if options and "task_index" in options:
        index = int(options["task_index"])
        if not 0 <= index < n_tasks:
            raise IndexError(f"task_index {index} out of range for {n_tasks} tasks")
        return index
    return int(rng.integers(n_tasks))


def read_turn(action: Any, tags: TagSet, max_chars: int) -> Turn | Violation:
    """Parse an agent's output as a protocol turn; non-text and over-long output are violations too."""
    if not isinstance(action, str):
        return Violation(ViolationKind.NOT_TEXT, f"a turn must be text, got {type(action).__name__}")
    if len(action) > max_chars:
        return Violation(ViolationKind.TOO_LONG, f"turn of {len(action)} characters exceeds {max_chars}")
    return parse_turn(safe_text(action), tags)


def too_long_to_read(env: gym.Env[str, str], action: Any) -> bool:
    """True when ``action`` is text longer than ``env``'s action space allows.

    Wrappers that read a turn before the env does (tool calls, MEM1's reading, memory
    elements) hand such a turn on unread: the env refuses it at once as too long, and no
    scan ever runs over a megabyte of hostile text.
    """
    limit = getattr(env.action_space, "max_length", None)
    return isinstance(action, str) and limit is not None and len(action) > limit


def render_turn(render_mode: str | None, turn: int, latest: str) -> str | None:
    """``ansi``: the env's latest message as text; ``human``: print it."""
    text = f"[turn {turn}] {latest}"
    if render_mode == "ansi":
        return text
    if render_mode == "human":
        print(text)
    return None
