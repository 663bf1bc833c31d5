"""Goals derived from products the way WebShop derives them (``web_agent_site/engine/goal.py``).

A goal takes the product's instruction and instruction attributes, one value per
option (synthetic goals name the options in the text: ``with color: black, and size:
large``), and a price bound drawn like WebShop's: of the first four multiples of 10
above the product's price, two are drawn and the larger one is the bound (``and price
lower than 40.00 dollars``); with fewer than two such multiples there is no bound.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from composers.sources.shop.records import NO_PRICE_LIMIT, Goal, Product

__all__ = ["PRICE_RANGE", "derive_goal", "price_condition"]

PRICE_RANGE = tuple(10.0 * i for i in range(1, 100))


def price_condition(price: float, rng: random.Random) -> tuple[float, str]:
    """WebShop's price bound for an item that costs ``price``, and the text saying it."""
    above = [p for p in PRICE_RANGE if p > price][:4]
    if len(above) < 2:
        return NO_PRICE_LIMIT, ""
    _, upper = sorted(rng.sample(above, 2))
    return upper, f", and price lower than {upper:.2f} dollars"


def derive_goal(
    goal_id: str,
    product: Product,
    instruction: str,
    attributes: Sequence[str],
    options: Sequence[tuple[str, str]],
    rng: random.Random,
    name_options: bool = True,
) -> Goal:
    """The goal of buying ``product`` with ``options`` as WebShop phrases it.

    ``name_options`` adds WebShop's synthetic option phrase to the text; human-written
    instructions already mention their options and keep their own wording.
    """
    text = instruction.strip().rstrip(".")
    if name_options and options:
        text += " with " + ", and ".join(f"{name}: {value}" for name, value in options)
    upper, price_text = price_condition(product.price, rng)
    return Goal(
        id=goal_id,
        asin=product.asin,
        instruction_text=text + price_text,
        attributes=tuple(attributes),
        goal_options=tuple(options),
        price_upper=upper,
        name=product.name,
        query=product.query,
        category=product.category,
        product_category=product.product_category,
    )
