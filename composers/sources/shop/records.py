"""Shop records: WebShop-compatible products and purchase goals.

A :class:`Product` carries what WebShop's cleaned product dict carries (``asin``,
``name``/``Title``, ``category``, ``query``, ``product_category``, prices, attributes,
options, description, bullet points, reviews). A :class:`Goal` is one shopping
instruction: the text a person reads, the attributes and option values the bought
item must have, a price bound, and the product it was derived from (which is one item
that satisfies it; the reward accepts any item that does). Both convert to and from
plain JSON objects, so catalogs and goals store as rows and lines.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["NO_PRICE_LIMIT", "Goal", "Product", "Review", "ShopRecordError"]

NO_PRICE_LIMIT = 1_000_000.0
"""WebShop's ``price_upper`` for goals without a price condition."""


class ShopRecordError(ValueError):
    """A product or goal record that does not follow the schema."""


@dataclass(frozen=True, slots=True)
class Review:
    score: float
    title: str
    body: str


@dataclass(frozen=True, slots=True)
class Product:
    """One catalog item.

    ``pricing`` is the listed price or price range (one or two numbers); ``price`` is
    the price the shop charges (inside the range, fixed per catalog, as WebShop draws
    it). ``options`` maps an option name (``color``, ``size``) to its values.
    """

    asin: str
    name: str
    category: str
    query: str
    product_category: str
    pricing: tuple[float, ...]
    price: float
    attributes: tuple[str, ...]
    options: tuple[tuple[str, tuple[str, ...]], ...]
    description: str
    bullet_points: tuple[str, ...]
    reviews: tuple[Review, ...] = ()
    rating: float | None = None

    @property
    def price_tag(self) -> str:
        """The price as the shop shows it: ``$12.99`` or ``$12.99 to $15.99``."""
        return " to ".join(f"${p:.2f}" for p in self.pricing)

    def option_values(self) -> dict[str, tuple[str, ...]]:
        return dict(self.options)

    def to_dict(self) -> dict[str, Any]:
        return {
            "asin": self.asin,
            "name": self.name,
            "category": self.category,
            "query": self.query,
            "product_category": self.product_category,
            "pricing": list(self.pricing),
            "price": self.price,
            "attributes": list(self.attributes),
            "options": {name: list(values) for name, values in self.options},
            "description": self.description,
            "bullet_points": list(self.bullet_points),
            "reviews": [{"score": r.score, "title": r.title, "body": r.body} for r in self.reviews],
            "rating": self.rating,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Product:
        try:
            pricing = tuple(float(p) for p in data["pricing"])
            if not 1 <= len(pricing) <= 2:
                raise ShopRecordError(f"product {data.get('asin')!r}: pricing needs one or two prices")
            return cls(
                asin=str(data["asin"]),
                name=str(data["name"]),
                category=str(data.get("category", "")),
                query=str(data.get("query", "")),
                product_category=str(data.get("product_category", "")),
                pricing=pricing,
                price=float(data.get("price", pricing[0])),
                attributes=tuple(str(a) for a in data.get("attributes") or ()),
                options=tuple((str(k), tuple(str(v) for v in vs)) for k, vs in (data.get("options") or {}).items()),
                description=str(data.get("description", "")),
                bullet_points=tuple(str(b) for b in data.get("bullet_points") or ()),
                reviews=tuple(
                    Review(float(r.get("score", 0)), str(r.get("title", "")), str(r.get("body", "")))
                    for r in data.get("reviews") or ()
                ),
                rating=None if data.get("rating") is None else float(data["rating"]),
            )
        except KeyError as missing:
            raise ShopRecordError(f"product record is missing the field {missing}") from None
        except (TypeError, ValueError, AttributeError) as error:
            if isinstance(error, ShopRecordError):
                raise
            raise ShopRecordError(f"product {data.get('asin')!r} has a malformed field: {error}") from None


@dataclass(frozen=True, slots=True)
class Goal:
    """One purchase instruction, WebShop's goal dict as a record.

    ``goal_options`` are ``(name, value)`` pairs; human-written WebShop goals list
    values without names, stored with an empty name. ``name``, ``query``,
    ``product_category`` describe the product type wanted (the type reward compares
    them with the bought item).
    """

    id: str
    asin: str
    instruction_text: str
    attributes: tuple[str, ...]
    goal_options: tuple[tuple[str, str], ...]
    price_upper: float
    name: str
    query: str
    category: str
    product_category: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "asin": self.asin,
            "instruction_text": self.instruction_text,
            "attributes": list(self.attributes),
            "goal_options": [[k, v] for k, v in self.goal_options],
            "price_upper": self.price_upper,
            "name": self.name,
            "query": self.query,
            "category": self.category,
            "product_category": self.product_category,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Goal:
        try:
            options = data.get("goal_options") or ()
            if isinstance(options, Mapping):
                pairs = tuple((str(k), str(v)) for k, v in options.items())
            else:
                pairs = tuple(
                    ("", str(o)) if isinstance(o, str) else (str(o[0]), str(o[1]))  # type: ignore[index]  # a [name, value] pair from JSON
                    for o in options
                )
            return cls(
                id=str(data["id"]),
                asin=str(data["asin"]),
                instruction_text=str(data["instruction_text"]),
                attributes=tuple(str(a) for a in data.get("attributes") or ()),
                goal_options=pairs,
                price_upper=float(data.get("price_upper", NO_PRICE_LIMIT)),
                name=str(data.get("name", "")),
                query=str(data.get("query", "")),
                category=str(data.get("category", "")),
                product_category=str(data.get("product_category", "")),
            )
        except KeyError as missing:
            raise ShopRecordError(f"goal record is missing the field {missing}") from None
        except (TypeError, ValueError, IndexError) as error:
            raise ShopRecordError(f"goal {data.get('id')!r} has a malformed field: {error}") from None
