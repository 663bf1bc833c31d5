"""Parallel composition (MEM1): N independent questions answered together.

The split's question pool is cut into consecutive groups of N, as MEM1 groups
FlashRAG questions; with ``shuffle=True`` (default) each pass over the pool uses a
fresh seeded permutation, so tasks differ across passes and no question repeats
within a task. Task ``i`` lies in pass ``i // (P // N)`` where ``P`` is the pool size.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from composers.records import Task
from composers.sources.base import QASource
from composers.strategies.base import CompositionError, check_n_objectives, make_task

__all__ = ["Parallel"]


class Parallel:
    """N independent questions per task from one source.

    Args:
        source: where questions come from.
        n_objectives: questions per task (N).
        split: ``"train"`` or ``"test"`` (or any split the source has).
        seed: composition seed.
        shuffle: permute the pool per pass; ``False`` groups questions in source order
            exactly as MEM1 does.

    """

    name = "parallel"

    def __init__(
        self, source: QASource, n_objectives: int, split: str = "train", seed: int = 0, shuffle: bool = True
    ) -> None:
        check_n_objectives(n_objectives)
        self.source, self.n_objectives, self.split, self.seed, self.shuffle = source, n_objectives, split, seed, shuffle
        self._pool = source.questions(split)
        if len(self._pool) < n_objectives:
            raise CompositionError(
                f"the {split} split of {source.name} has {len(self._pool)} questions, fewer than N={n_objectives}"
            )
        self._per_pass = len(self._pool) // n_objectives
        self._orders: OrderedDict[int, np.ndarray] = OrderedDict()
        self._sources = (source.name,)

    def _order(self, pass_index: int) -> np.ndarray:
        order = self._orders.get(pass_index)
        if order is None:
            if self.shuffle:
                rng = np.random.default_rng([self.seed, pass_index, 0x9A2A11E1])
                order = rng.permutation(len(self._pool))
            else:
                order = np.arange(len(self._pool))
            self._orders[pass_index] = order
            while len(self._orders) > 4:
                self._orders.popitem(last=False)
        return order

    def task(self, index: int) -> Task:
        if index < 0:
            raise IndexError(f"task index must be non-negative, got {index}")
        pass_index, slot = divmod(index, self._per_pass)
        start = slot * self.n_objectives
        positions = self._order(pass_index)[start : start + self.n_objectives].tolist()
        pool = self._pool
        return make_task(self, self._sources, index, tuple([pool[p] for p in positions]))
