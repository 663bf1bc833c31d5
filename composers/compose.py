"""The one call a user needs: :func:`compose` returns a lazy :class:`TaskSet`.

>>> from composers import compose
>>> tasks = compose("synthetic", strategy="parallel", n_objectives=8, count=1000, seed=0)
>>> tasks[0].n_objectives
8
>>> tasks.write("train_n8.jsonl")          # or .parquet          # doctest: +SKIP
>>> dataset = tasks.to_dataset()           # a datasets.Dataset   # doctest: +SKIP
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, overload

from composers.records import Task
from composers.sources.base import QASource
from composers.sources.registry import load_source
from composers.strategies.base import CompositionError, Strategy
from composers.strategies.chained import Chained
from composers.strategies.mixed import Mixed
from composers.strategies.parallel import Parallel
from composers.taskfiles import write_tasks

if TYPE_CHECKING:
    import datasets

__all__ = ["STRATEGIES", "TaskSet", "compose"]

STRATEGIES = ("parallel", "chained", "mixed")


class TaskSet(Sequence[Task]):
    """``size`` tasks of a strategy, built on access (nothing is held in memory).

    ``len(tasks)`` is the number of tasks; ``tasks.count(task)`` is ``Sequence.count``.
    """

    def __init__(self, strategy: Strategy, count: int) -> None:
        if count < 0:
            raise CompositionError(f"count must be non-negative, got {count}")
        self.strategy, self.size = strategy, count

    def __len__(self) -> int:
        return self.size

    @overload
    def __getitem__(self, index: int) -> Task: ...
    @overload
    def __getitem__(self, index: slice) -> list[Task]: ...
    def __getitem__(self, index: int | slice) -> Task | list[Task]:
        if isinstance(index, slice):
            return [self.strategy.task(i) for i in range(*index.indices(self.size))]
        if index < 0:
            index += self.size
        if not 0 <= index < self.size:
            raise IndexError(f"task index {index} out of range for {self.size} tasks")
        return self.strategy.task(index)

    def __iter__(self) -> Iterator[Task]:
        task = self.strategy.task
        for index in range(self.size):
            yield task(index)

    def write(self, path: str | Path, fmt: str | None = None) -> int:
        """Write every task to a ``.jsonl`` or ``.parquet`` file; returns the count."""
        return write_tasks(self, path, fmt)

    def to_dataset(self) -> datasets.Dataset:
        """The tasks as a ``datasets.Dataset``, streamed through a Parquet file into its Arrow cache."""
        import datasets

        with tempfile.TemporaryDirectory(prefix="envkit-tasks-") as folder:
            path = Path(folder) / "tasks.parquet"
            write_tasks(self, path)
            return datasets.Dataset.from_parquet(str(path))

    def __repr__(self) -> str:
        s = self.strategy
        return (
            f"TaskSet(strategy={s.name}, n_objectives={s.n_objectives}, split={s.split}, "
            f"seed={s.seed}, count={self.size})"
        )


def compose(
    source: str | QASource | Sequence[str | QASource],
    strategy: str = "parallel",
    n_objectives: int = 2,
    count: int = 1000,
    split: str = "train",
    seed: int = 0,
    weights: Sequence[float] | None = None,
    shuffle: bool = True,
    counts: Sequence[int] | None = None,
) -> TaskSet:
    """Compose ``count`` tasks of ``n_objectives`` objectives each.

    Args:
        source: a source spec (``"synthetic"``, ``"flashrag:nq"``, ``"file:PATH"``), a
            source object, or several of either (``mixed`` takes several).
        strategy: ``"parallel"`` (independent questions, as MEM1), ``"chained"``
            (objective k+1 needs the answer of k) or ``"mixed"`` (several sources).
        n_objectives: objectives per task (N), any positive integer.
        count: number of tasks.
        split: ``"train"`` or ``"test"``; test questions never appear in train tasks.
        seed: composition seed; same seed and inputs give identical tasks.
        weights: per-source weights for ``mixed``.
        counts: ``mixed`` only: exactly this many objectives from each source, in
            source order (e.g. two QA questions and one shop goal).
        shuffle: ``parallel`` only; ``False`` groups questions in source order (MEM1).

    """
    specs = [source] if isinstance(source, (str, QASource)) else list(source)
    sources = [load_source(s, split) for s in specs]
    if strategy == "mixed":
        return TaskSet(Mixed(sources, n_objectives, split, seed, weights, counts), count)
    if weights is not None or counts is not None:
        raise CompositionError(f"weights and counts are for the 'mixed' strategy, not {strategy!r}")
    if len(sources) != 1:
        raise CompositionError(f"strategy {strategy!r} takes one source, got {len(sources)} (use 'mixed')")
    if strategy == "parallel":
        return TaskSet(Parallel(sources[0], n_objectives, split, seed, shuffle), count)
    if strategy == "chained":
        return TaskSet(Chained(sources[0], n_objectives, split, seed), count)
    raise CompositionError(f"unknown strategy {strategy!r} (use {', '.join(STRATEGIES)})")
