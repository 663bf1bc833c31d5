"""Shop goals as a source: products to sell and purchase goals to compose into tasks.

A :class:`ShopSource` holds a catalog (the bundled :class:`SyntheticCatalog` or
WebShop's own files) and its goals. Like a QA source it serves ``questions(split)``:
each goal as an :class:`~composers.records.Objective` of ``kind="shop"`` (the
instruction as the question, the derived product's ASIN as the gold answer), so shop
goals go through the same strategies as QA questions: ``mixed`` composes "answer two
questions and buy one product". The env turns a shop objective back into its
:class:`Goal` with :meth:`ShopSource.goal`.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from pathlib import Path

from composers.records import Objective
from composers.sources.base import SourceError
from composers.sources.shop.goals import derive_goal
from composers.sources.shop.records import NO_PRICE_LIMIT, Goal, Product, Review, ShopRecordError
from composers.sources.shop.synthetic import SyntheticCatalog
from composers.sources.shop.webshop_files import (
    WebShopFileError,
    read_attributes,
    read_human_instructions,
    read_products,
)
from composers.sources.synthetic.names import hash_key

__all__ = [
    "NO_PRICE_LIMIT",
    "SHOP_SPLITS",
    "Goal",
    "Product",
    "Review",
    "ShopRecordError",
    "ShopSource",
    "SyntheticCatalog",
    "WebShopFileError",
    "shop_objective",
]

SHOP_SPLITS = ("train", "dev", "test")
_WEBSHOP_HUMAN_GOALS = 12_087  # WebShop's test/dev/train cut at 500/1500 of this many


def shop_objective(goal: Goal, source: str) -> Objective:
    """A goal as a task objective (what composers and task files carry)."""
    return Objective(
        id=goal.id,
        question=goal.instruction_text,
        golden_answers=(goal.asin,),
        source=source,
        queries=(goal.query,) if goal.query else (),
        kind="shop",
    )


class ShopSource:
    """A catalog and its goals, split into train / dev / test.

    Build it with :meth:`synthetic` (no download) or :meth:`webshop` (WebShop's files).
    """

    def __init__(self, name: str, products: Sequence[Product] | SyntheticCatalog, goals: Sequence[Goal],
                 splits: dict[str, range]) -> None:  # fmt: skip
        self.name, self._products, self._goals, self._splits = name, products, goals, splits
        self.files: tuple[Path, ...] = ()  # the files it was read from (a cache of it must change with them)
        self._by_id: dict[str, int] | None = None
        self._objectives: dict[str, Sequence[Objective]] = {}

    # -- constructors -------------------------------------------------------------------

    @classmethod
    def synthetic(cls, products: int = 1000, seed: int = 0, test_fraction: float = 0.1) -> ShopSource:
        """The bundled catalog: goal ``i`` buys product ``i``; a hash puts each goal in a split."""
        try:
            catalog = SyntheticCatalog(products, seed)
        except ValueError as error:
            raise SourceError(str(error)) from None
        return cls(f"shop:products={products},seed={seed}", catalog, _SyntheticGoals(catalog, test_fraction), {})

    @classmethod
    def webshop(
        cls,
        products_file: str | Path,
        attributes_file: str | Path | None = None,
        human_goals_file: str | Path | None = None,
        name: str | None = None,
    ) -> ShopSource:
        """WebShop's files; goals are the human instructions when given, else the synthetic ones.

        Goals are shuffled with WebShop's seed (233) and cut like WebShop's (test the
        first 500, dev the next 1000 of its 12 087 human goals), scaled to the count.
        """
        try:
            attributes = read_attributes(attributes_file) if attributes_file else {}
            products = list(read_products(products_file, attributes))
            human = read_human_instructions(human_goals_file) if human_goals_file else None
        except WebShopFileError as error:
            raise SourceError(str(error)) from None
        goals: list[Goal] = []
        rng = random.Random(233)
        for product in products:
            if human is not None:
                for k, entry in enumerate(human.get(product.asin, ())):
                    attrs = entry.get("instruction_attributes") or []
                    if not attrs:
                        continue  # WebShop drops goals without attributes
                    values = [("", str(v)) for v in entry.get("instruction_options") or []]
                    goals.append(
                        derive_goal(
                            f"{product.asin}#{k}",
                            product,
                            str(entry["instruction"]),
                            attrs,
                            values,
                            rng,
                            name_options=False,
                        )
                    )
                continue
            entry = attributes.get(product.asin, {})
            if not entry.get("instruction") or not entry.get("instruction_attributes"):
                continue
            names = sorted(n for n, _ in product.options)
            choices = dict(product.options)
            for k, combination in enumerate(itertools.product(*(choices[n] for n in names))):
                goals.append(
                    derive_goal(
                        f"{product.asin}#{k}",
                        product,
                        entry["instruction"],
                        entry["instruction_attributes"],
                        list(zip(names, combination, strict=True)),
                        rng,
                    )
                )
        random.Random(233).shuffle(goals)
        n = len(goals)
        test = max(1, round(500 * n / _WEBSHOP_HUMAN_GOALS)) if n >= 3 else 0
        dev = test + (max(1, round(1000 * n / _WEBSHOP_HUMAN_GOALS)) if n >= 3 else 0)
        splits = {"test": range(0, test), "dev": range(test, dev), "train": range(dev, n)}
        source = cls(name or f"shop:webshop={products_file}", products, goals, splits)
        given = (products_file, attributes_file, human_goals_file)
        source.files = tuple(Path(f) for f in given if f is not None)
        return source

    # -- catalog -------------------------------------------------------------------------

    def products(self) -> Iterator[Product]:
        """Every product, in catalog order (computed lazily for the synthetic catalog)."""
        return iter(self._products)

    @property
    def product_count(self) -> int:
        return len(self._products)

    # -- goals ---------------------------------------------------------------------------

    def goals(self, split: str) -> Sequence[Goal]:
        if split not in SHOP_SPLITS:
            raise SourceError(f"unknown split {split!r} for a shop (use {', '.join(SHOP_SPLITS)})")
        if isinstance(self._goals, _SyntheticGoals):
            return self._goals.split(split)
        return [self._goals[i] for i in self._splits[split]]

    def questions(self, split: str) -> Sequence[Objective]:
        objectives = self._objectives.get(split)
        if objectives is None:
            name = self.name
            objectives = self._objectives[split] = _Mapped(self.goals(split), lambda g: shop_objective(g, name))
        return objectives

    def goal(self, goal_id: str) -> Goal:
        """The goal with id ``goal_id`` (any split)."""
        if isinstance(self._goals, _SyntheticGoals):
            return self._goals.by_id(goal_id)
        if self._by_id is None:
            self._by_id = {g.id: i for i, g in enumerate(self._goals)}
        try:
            return self._goals[self._by_id[goal_id]]
        except KeyError:
            raise SourceError(f"{self.name} has no goal {goal_id!r}") from None

    def __repr__(self) -> str:
        return f"ShopSource({self.name!r}, products={self.product_count})"


class _SyntheticGoals(Sequence[Goal]):
    """Goal ``g<i>`` buys product ``i`` of a synthetic catalog; computed on demand."""

    def __init__(self, catalog: SyntheticCatalog, test_fraction: float) -> None:
        if not 0 < test_fraction < 1:
            raise SourceError(f"test_fraction must be in (0, 1), got {test_fraction}")
        self.catalog, self.test_fraction = catalog, test_fraction
        self._splits: dict[str, Sequence[Goal]] = {}
        self._goal = lru_cache(maxsize=16_384)(lambda i: catalog.goal(i, f"g{i}"))

    def __len__(self) -> int:
        return len(self.catalog)

    def __getitem__(self, index):  # type: ignore[no-untyped-def]  # Sequence's int/slice overloads
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if not 0 <= index < len(self):
            raise IndexError(f"goal index {index} out of range")
        return self._goal(index)

    def split_of(self, index: int) -> str:
        u = hash_key(self.catalog.seed, 0x5E1, index) / 2**64
        if u < self.test_fraction:
            return "test"
        return "dev" if u < 2 * self.test_fraction else "train"

    def split(self, split: str) -> Sequence[Goal]:
        goals = self._splits.get(split)
        if goals is None:
            indices = [i for i in range(len(self)) if self.split_of(i) == split]
            goals = self._splits[split] = _Mapped(indices, self.__getitem__)
        return goals

    def by_id(self, goal_id: str) -> Goal:
        if goal_id.startswith("g") and goal_id[1:].isdigit() and int(goal_id[1:]) < len(self):
            return self[int(goal_id[1:])]
        raise SourceError(f"the synthetic catalog has no goal {goal_id!r}")


class _Mapped(Sequence):  # type: ignore[type-arg]  # of whatever function returns
    """``function(item)`` for each item of ``items``, computed when read (random access)."""

    def __init__(self, items: Sequence, function: Callable) -> None:  # type: ignore[type-arg]  # any items, any function
        self._items, self._function = items, function

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index):  # type: ignore[no-untyped-def]  # Sequence's int/slice overloads
        if isinstance(index, slice):
            return [self._function(item) for item in self._items[index]]
        return self._function(self._items[index])
