"""Mixed composition: objectives from several sources in one task.

Each of the N slots draws its source by weight, then each source contributes distinct
questions from its own pool. With ``counts`` instead, every task takes exactly
``counts[i]`` objectives from source ``i``, in source order: ``counts=(2, 1)`` over a
QA source and a shop source is "answer two questions, then buy one product". The env
then needs a retriever over the union of the sources' corpora (``envkit`` builds one
for sources that ship a corpus); shop objectives are played by the composite env.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from composers.records import Task
from composers.sources.base import QASource
from composers.sources.synthetic.names import hash_key
from composers.strategies.base import CompositionError, check_n_objectives, make_task

__all__ = ["Mixed"]


class Mixed:
    """N objectives per task drawn from several sources by weight."""

    name = "mixed"

    def __init__(
        self,
        sources: Sequence[QASource],
        n_objectives: int,
        split: str = "train",
        seed: int = 0,
        weights: Sequence[float] | None = None,
        counts: Sequence[int] | None = None,
    ) -> None:
        check_n_objectives(n_objectives)
        if not sources:
            raise CompositionError("mixed composition needs at least one source")
        if counts is not None:
            if weights is not None:
                raise CompositionError("give mixed composition weights or counts, not both")
            if len(counts) != len(sources) or any(c < 0 for c in counts) or sum(counts) != n_objectives:
                raise CompositionError(
                    f"need one non-negative count per source summing to N={n_objectives}, got {list(counts)}"
                )
            weights = [float(c) for c in counts]
        names = [s.name for s in sources]
        if len(set(names)) != len(names):
            raise CompositionError(f"mixed sources must have distinct names, got {names}")
        weights = [1.0] * len(sources) if weights is None else list(weights)
        if len(weights) != len(sources) or any(w < 0 for w in weights) or sum(weights) <= 0:
            raise CompositionError(f"need one non-negative weight per source with a positive sum, got {weights}")
        self.sources, self.weights = tuple(sources), weights
        self.counts = None if counts is None else tuple(counts)
        self.n_objectives, self.split, self.seed = n_objectives, split, seed
        self._pools = [s.questions(split) for s in sources]
        for source, pool, weight in zip(sources, self._pools, weights, strict=True):
            if weight > 0 and not pool:
                raise CompositionError(f"the {split} split of {source.name} has no questions")
        if sum(len(p) for p, w in zip(self._pools, weights, strict=True) if w > 0) < n_objectives:
            raise CompositionError(f"the mixed sources hold fewer than N={n_objectives} {split} questions")
        for source, pool, count in zip(sources, self._pools, self.counts or (), strict=False):
            if count > len(pool):
                raise CompositionError(f"the {split} split of {source.name} has fewer than {count} questions")
        self._names = tuple(names)

    def task(self, index: int) -> Task:
        if index < 0:
            raise IndexError(f"task index must be non-negative, got {index}")
        rng = random.Random(hash_key(self.seed, 0x313D, index))
        if self.counts is not None:
            counts = list(self.counts)
            slots = [s for s, count in enumerate(counts) for _ in range(count)]
            picks = [iter(rng.sample(range(len(pool)), c)) for pool, c in zip(self._pools, counts, strict=True)]
            return make_task(self, self._names, index, tuple(self._pools[s][next(picks[s])] for s in slots))
        counts = [0] * len(self.sources)
        slots = []
        for _ in range(self.n_objectives):
            # draw a source that still has unused questions
            open_weights = [w if counts[i] < len(self._pools[i]) else 0.0 for i, w in enumerate(self.weights)]
            choice = rng.choices(range(len(self.sources)), weights=open_weights)[0]
            counts[choice] += 1
            slots.append(choice)
        picks = [iter(rng.sample(range(len(pool)), count)) for pool, count in zip(self._pools, counts, strict=True)]
        objectives = tuple(self._pools[s][next(picks[s])] for s in slots)
        return make_task(self, self._names, index, objectives)
