"""Chained composition: objective k+1 cannot be resolved without the answer to k.

With a :class:`ChainableSource` (the synthetic world) the chain follows bridge
entities: objective k's answer is the unnamed subject of objective k+1. Other sources
have no entity graph, so objective k+1 is a templated reference: it asks for its own
question's answer prefixed by objective k's answer (``"X | answer"``), which is only
right once objective k is solved. Gold answers are every such combination.
"""

from __future__ import annotations

import random

from composers.records import Objective, Task
from composers.sources.base import ChainableSource, QASource
from composers.sources.synthetic.names import hash_key
from composers.strategies.base import CompositionError, check_n_objectives, make_task

__all__ = ["Chained", "templated_reference"]

_MAX_ALIASES = 4


def templated_reference(previous: Objective, objective: Objective, position: int) -> Objective:
    """``objective`` rewritten so that it needs the answer of ``previous`` (at ``position - 1``)."""
    question = (
        f"Let X be the answer to the question asked in question {position}. {objective.question} "
        "Reply in the form 'X | your answer'."
    )
    answers = tuple(
        f"{x} | {y}" for x in previous.golden_answers[:_MAX_ALIASES] for y in objective.golden_answers[:_MAX_ALIASES]
    )
    return Objective(
        id=f"{objective.id}@after:{previous.id}",
        question=question,
        golden_answers=answers,
        source=objective.source,
        supporting_ids=previous.supporting_ids + objective.supporting_ids,
        queries=objective.queries or (objective.question,),
        depends_on=position - 1,
        kind=objective.kind,
    )


class Chained:
    """N interdependent objectives per task from one source."""

    name = "chained"

    def __init__(self, source: QASource, n_objectives: int, split: str = "train", seed: int = 0) -> None:
        check_n_objectives(n_objectives)
        self.source, self.n_objectives, self.split, self.seed = source, n_objectives, split, seed
        self._sources = (source.name,)
        if not isinstance(source, ChainableSource):
            self._pool = source.questions(split)
            if len(self._pool) < n_objectives:
                raise CompositionError(
                    f"the {split} split of {source.name} has {len(self._pool)} questions, fewer than N={n_objectives}"
                )

    def task(self, index: int) -> Task:
        if index < 0:
            raise IndexError(f"task index must be non-negative, got {index}")
        key = hash_key(self.seed, 0xC4A1, index)
        if isinstance(self.source, ChainableSource):
            objectives = self.source.chain(self.split, self.n_objectives, key)
        else:
            picked = random.Random(key).sample(range(len(self._pool)), self.n_objectives)
            base = [self._pool[p] for p in picked]
            objectives = (
                base[0],
                *tuple(templated_reference(base[k - 1], base[k], k) for k in range(1, self.n_objectives)),
            )
        return make_task(self, self._sources, index, objectives)
