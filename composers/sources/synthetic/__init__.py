"""The bundled synthetic world: a QA source that needs no download."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from composers.records import Objective
from composers.sources.base import Document, SourceError
from composers.sources.synthetic.questions import sample_chain, sample_question, world_spec
from composers.sources.synthetic.world import SPLITS, SyntheticWorld

__all__ = ["SyntheticSource", "SyntheticWorld"]


class SyntheticSource:
    """Questions and passages of a seeded :class:`SyntheticWorld`.

    Args:
        passages: number of passages (= entities) in the world, 40 to millions.
        seed: world seed; the same seed always gives the same world.
        questions: size of each split's question bank (default: one per entity of the
            split, at least 1000 and at most 50 000). Composing samples from the bank.
        max_hops: longest multi-hop question (1 to 3).
        test_fraction: share of each entity type reserved for the test split.

    """

    def __init__(
        self,
        passages: int = 10_000,
        seed: int = 0,
        questions: int | None = None,
        max_hops: int = 3,
        test_fraction: float = 0.1,
    ) -> None:
        if not 1 <= max_hops <= 3:
            raise SourceError(f"max_hops must be 1, 2 or 3, got {max_hops}")
        try:
            self.world = SyntheticWorld(passages=passages, seed=seed, test_fraction=test_fraction)
        except ValueError as error:
            raise SourceError(str(error)) from None
        if questions is not None and questions < 1:
            raise SourceError(f"questions must be positive, got {questions}")
        self.max_hops, self._bank_size = max_hops, questions
        extra = (f",max_hops={max_hops}" if max_hops != 3 else "") + (f",questions={questions}" if questions else "")
        self.name = world_spec(self.world) + extra  # a spec that builds this source again
        self._banks: dict[str, list[Objective]] = {}

    def _check_split(self, split: str) -> None:
        if split not in SPLITS:
            raise SourceError(f"unknown split {split!r} for the synthetic world (use {' or '.join(SPLITS)})")

    def questions(self, split: str) -> Sequence[Objective]:
        self._check_split(split)
        bank = self._banks.get(split)
        if bank is None:
            bank = self._banks[split] = self._build_bank(split)
        return bank

    def _build_bank(self, split: str) -> list[Objective]:
        entities = sum(len(self.world.entities(t, split)) for t in ("person", "place", "organisation", "work"))
        size = self._bank_size or min(50_000, max(1_000, entities))
        seen: set[str] = set()
        bank: list[Objective] = []
        for key in range(size * 8):
            objective = sample_question(self.world, split, key, self.max_hops)
            if objective.id not in seen:
                seen.add(objective.id)
                bank.append(objective)
                if len(bank) == size:
                    break
        return bank

    def chain(self, split: str, n: int, key: int) -> tuple[Objective, ...]:
        self._check_split(split)
        try:
            return sample_chain(self.world, split, n, key)
        except ValueError as error:
            raise SourceError(str(error)) from None

    def documents(self) -> Iterator[Document]:
        return self.world.iter_passages()

    def __repr__(self) -> str:
        return f"SyntheticSource({self.world!r}, max_hops={self.max_hops})"
