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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, overload

from composers.records import Objective, Task
from composers.sources.base import QASource
from composers.sources.registry import load_source
from composers.spec_table import SpecTable
from composers.strategies.base import CompositionError, Strategy
from composers.strategies.chained import Chained
from composers.strategies.mixed import Mixed
from composers.strategies.parallel import Parallel
from composers.taskfiles import write_tasks
from composers.updates import with_updates

if TYPE_CHECKING:
    import datasets

__all__ = ["STRATEGY_TABLE", "CompositionOptions", "TaskSet", "compose"]


@dataclass(frozen=True, slots=True)
class CompositionOptions:
    """What :func:`compose` passes to a strategy besides its sources."""

    n_objectives: int
    split: str
    seed: int
    weights: Sequence[float] | None = None
    counts: Sequence[int] | None = None
    shuffle: bool = True


def _one_source(strategy: str, sources: Sequence[QASource], options: CompositionOptions) -> QASource:
    if options.weights is not None or options.counts is not None:
        raise CompositionError(f"weights and counts are for the 'mixed' strategy, not {strategy!r}")
    if len(sources) != 1:
        raise CompositionError(f"strategy {strategy!r} takes one source, got {len(sources)} (use 'mixed')")
    return sources[0]


def _parallel(rest: str, spec: str, sources: Sequence[QASource], options: CompositionOptions) -> Strategy:
    source = _one_source(spec, sources, options)
    return Parallel(source, options.n_objectives, options.split, options.seed, options.shuffle)


def _chained(rest: str, spec: str, sources: Sequence[QASource], options: CompositionOptions) -> Strategy:
    return Chained(_one_source(spec, sources, options), options.n_objectives, options.split, options.seed)


def _mixed(rest: str, spec: str, sources: Sequence[QASource], options: CompositionOptions) -> Strategy:
    return Mixed(sources, options.n_objectives, options.split, options.seed, options.weights, options.counts)


STRATEGY_TABLE: SpecTable[Strategy] = SpecTable("strategy", CompositionError)
"""Composition strategies by name; ``STRATEGY_TABLE.register(name, factory)`` adds one."""
STRATEGY_TABLE.register("parallel", _parallel)
STRATEGY_TABLE.register("chained", _chained)
STRATEGY_TABLE.register("mixed", _mixed)


class _Updated:
    """A strategy's tasks with knowledge updates (a strategy itself, so a TaskSet stays lazy)."""

    def __init__(self, strategy: Strategy, k: int, updatable: Callable[[Objective], bool]) -> None:
        self.inner, self.k, self.updatable = strategy, k, updatable
        self.name, self.n_objectives = f"{strategy.name}+updates({k})", strategy.n_objectives
        self.split, self.seed = strategy.split, strategy.seed

    def task(self, index: int) -> Task:
        return with_updates(self.inner.task(index), self.k, self.updatable)


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

    def with_updates(self, k: int, updatable: Callable[[Objective], bool]) -> TaskSet:
        """The same tasks with ``k`` knowledge updates each (:func:`composers.updates.with_updates`)."""
        if k < 0:
            raise CompositionError(f"updates must be non-negative, got {k}")
        return TaskSet(_Updated(self.strategy, k, updatable), self.size) if k else self

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
    if strategy not in STRATEGY_TABLE:
        raise CompositionError(f"unknown strategy {strategy!r} (use {STRATEGY_TABLE.usage()})")
    sources = [load_source(s, split) for s in specs]
    options = CompositionOptions(n_objectives, split, seed, weights, counts, shuffle)
    return TaskSet(STRATEGY_TABLE.resolve(strategy, sources, options), count)
