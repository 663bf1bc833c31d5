"""Procedural reasoning problems from ``reasoning-gym`` as a source of objectives.

`reasoning-gym <https://github.com/open-thought/reasoning-gym>`_ generates unlimited
verifiable problems of about a hundred kinds (arithmetic, logic puzzles, graphs,
ciphers...), each kind with its own scorer. Each is a single-turn task; composed N
at a time they become one long-horizon episode (``kind="reasoning"``) whose answers
an agent must produce one after another while keeping its place in its state.

Spec: ``reasoning_gym:NAME[,NAME...][,size=N][,seed=S]``. Problem ``i`` of a split
comes from generator ``NAMES[i % len(NAMES)]``; each split draws from its own seed
(train ``S``, test ``S + 1``), so the splits are independent draws (a generator with
a small problem space can still repeat a question across them). An objective's id
(``NAME/SEED/INDEX``) and source (``reasoning_gym:NAME``) are all that is needed to
regenerate and score its problem (:func:`problem_of`).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any, overload

from composers.records import Objective
from composers.sources.base import SourceError

__all__ = ["KIND", "SPLITS", "ReasoningGymSource", "generator_of_id", "problem_of", "problem_of_id"]

KIND = "reasoning"
SPLITS = ("train", "test")
DEFAULT_SIZE = 100_000


@lru_cache(maxsize=64)
def _dataset(name: str, seed: int, size: int) -> Any:
    try:
        import reasoning_gym
    except ImportError:
        raise SourceError("reasoning_gym sources need reasoning-gym: pip install 'mem1-envkit[reasoning]'") from None
    from reasoning_gym.factory import DATASETS

    if name not in DATASETS:
        raise SourceError(f"unknown reasoning-gym generator {name!r} (e.g. basic_arithmetic, chain_sum, leg_counting)")
    try:
        return reasoning_gym.create_dataset(name, size=size, seed=seed)
    except (AssertionError, ValueError, TypeError) as error:
        raise SourceError(f"reasoning-gym generator {name!r} cannot be built: {error}") from None


def problem_of(objective: Objective) -> tuple[Any, dict[str, Any]]:
    """The generator and entry (``question``, ``answer``, ``metadata``) an objective was made from.

    A few generators draw differently in another process (polynomial_multiplication
    iterates a set, so its problems follow ``PYTHONHASHSEED``): when the regenerated
    question is not the one the objective recorded, the recorded question and answer are
    kept, so an answer is scored against the problem the agent was shown.
    """
    dataset, entry = problem_of_id(objective.id)
    if str(entry.get("question")) != objective.question and objective.golden_answers:
        entry = {**entry, "question": objective.question, "answer": objective.golden_answers[0]}
    return dataset, entry


def generator_of_id(objective_id: str) -> Any:
    """The reasoning-gym dataset (generator and scorer) an objective id (``NAME/SEED/INDEX``) draws from."""
    name, seed, index = _parse_id(objective_id)
    return _dataset(name, seed, max(DEFAULT_SIZE, index + 1))


def problem_of_id(objective_id: str) -> tuple[Any, dict[str, Any]]:
    """The generator and entry an objective id (``NAME/SEED/INDEX``) names, drawn in this process."""
    dataset = generator_of_id(objective_id)
    return dataset, dataset[_parse_id(objective_id)[2]]


def _parse_id(objective_id: str) -> tuple[str, int, int]:
    name, _, rest = objective_id.partition("/")
    seed, _, index = rest.partition("/")
    try:
        return name, int(seed), int(index)
    except ValueError:
        raise SourceError(f"{objective_id!r} is not a reasoning-gym objective id (NAME/SEED/INDEX)") from None


class _Problems(Sequence[Objective]):
    """One split's problems, generated when read."""

    def __init__(self, names: tuple[str, ...], seed: int, size: int) -> None:
        self.names, self.seed, self.size = names, seed, size
        self._datasets = [_dataset(name, seed, size) for name in names]  # fails fast on a bad name

    def __len__(self) -> int:
        return self.size

    @overload
    def __getitem__(self, index: int) -> Objective: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Objective]: ...
    def __getitem__(self, index: int | slice) -> Objective | Sequence[Objective]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self.size))]
        if not -self.size <= index < self.size:
            raise IndexError(f"problem {index} out of range for {self.size}")
        index %= self.size
        position, generator = divmod(index, len(self.names))
        name = self.names[generator]
        entry = self._datasets[generator][position]
        return Objective(
            id=f"{name}/{self.seed}/{position}",
            question=str(entry["question"]),
            golden_answers=(str(entry["answer"]),),
            source=f"reasoning_gym:{name}",
            kind=KIND,
        )


class ReasoningGymSource:
    """Problems of one or more reasoning-gym generators, ``size`` per split."""

    def __init__(self, names: Sequence[str], size: int = DEFAULT_SIZE, seed: int = 0) -> None:
        if not names:
            raise SourceError("reasoning_gym: name at least one generator, e.g. reasoning_gym:basic_arithmetic")
        if size < 1:
            raise SourceError(f"reasoning_gym: size must be at least 1, got {size}")
        self.names, self.size, self.seed = tuple(names), size, seed
        options = "" if (size, seed) == (DEFAULT_SIZE, 0) else f",size={size},seed={seed}"
        self.name = f"reasoning_gym:{','.join(self.names)}{options}"
        self._splits: dict[str, _Problems] = {}

    @classmethod
    def from_spec(cls, rest: str, spec: str) -> ReasoningGymSource:
        """Parse the part of a spec after ``reasoning_gym:``."""
        names, options = [], {}
        for item in filter(None, (part.strip() for part in rest.split(","))):
            key, sep, value = item.partition("=")
            if not sep:
                names.append(item)
            elif key in ("size", "seed") and value.lstrip("-").isdigit():
                options[key] = int(value)
            else:
                raise SourceError(f"bad option {item!r} in source {spec!r} (use size=N or seed=S)")
        return cls(names, **options)

    def questions(self, split: str) -> Sequence[Objective]:
        if split not in SPLITS:
            raise SourceError(f"unknown split {split!r} for reasoning-gym (use {' or '.join(SPLITS)})")
        problems = self._splits.get(split)
        if problems is None:
            seed = self.seed + SPLITS.index(split)
            problems = self._splits[split] = _Problems(self.names, seed, self.size)
        return problems
