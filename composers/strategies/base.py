"""What a composition strategy is: a random-access, deterministic task generator.

A strategy maps a task index to a :class:`Task`, deterministically in its seed and
inputs, so that task ``i`` is the same whether a suite is written to disk, streamed
into a ``datasets.Dataset``, or drawn by an env's ``reset``. Nothing is materialised:
memory is O(N) per task whatever the number of tasks.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from composers.records import Objective, Task
from composers.sources.base import SourceError

__all__ = ["CompositionError", "Strategy", "check_n_objectives", "make_task", "task_id"]


class CompositionError(SourceError):
    """A composition that cannot be made (e.g. more objectives than questions)."""


@runtime_checkable
class Strategy(Protocol):
    """Builds task ``index`` of a composed set."""

    name: str
    n_objectives: int
    split: str
    seed: int

    def task(self, index: int) -> Task:
        """Task number ``index`` (any non-negative integer)."""
        ...


def check_n_objectives(n_objectives: int) -> None:
    if not isinstance(n_objectives, int) or isinstance(n_objectives, bool) or n_objectives < 1:
        raise CompositionError(f"n_objectives must be a positive integer, got {n_objectives!r}")


def task_id(sources: str, strategy: str, n_objectives: int, split: str, seed: int, index: int) -> str:
    """A readable id that is unique within a composed set."""
    return f"{sources}-{strategy}-n{n_objectives}-{split}-s{seed}-{index:06d}"


def make_task(strategy: Strategy, sources: tuple[str, ...], index: int, objectives: tuple[Objective, ...]) -> Task:
    """Wrap composed objectives in a :class:`Task` with the strategy's metadata."""
    return Task(
        id=task_id("+".join(sources), strategy.name, strategy.n_objectives, strategy.split, strategy.seed, index),
        objectives=objectives,
        strategy=strategy.name,
        split=strategy.split,
        seed=strategy.seed,
        sources=sources,
    )
