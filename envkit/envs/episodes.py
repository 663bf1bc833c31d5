"""What every envkit env does the same way at the edges of a step: pick a task, read a turn, render it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from envkit.protocol.parser import Turn, Violation, ViolationKind, parse_turn, safe_text
from envkit.protocol.tags import TagSet

__all__ = ["choose_task", "read_turn", "render_turn"]


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


def render_turn(render_mode: str | None, turn: int, latest: str) -> str | None:
    """``ansi``: the env's latest message as text; ``human``: print it."""
    text = f"[turn {turn}] {latest}"
    if render_mode == "ansi":
        return text
    if render_mode == "human":
        print(text)
    return None
