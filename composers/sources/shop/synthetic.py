"""The bundled synthetic catalog: WebShop-like products and goals with no download.

Five of WebShop's categories, each with product types, attributes (``gluten free``,
``noise cancelling``) and options (``color``, ``size``, ``flavor``). Every product is
a pure function of ``(seed, index)``: a catalog of 100 000 products is computed, not
stored, and the same seed always gives the same catalog. Products of one type share
their attribute and option vocabulary, so a search for a type returns many near
misses and finding the item with the right attributes, options and price takes
reading item pages, as in WebShop.

Goal ``i`` is derived from product ``i`` with :func:`derive_goal`: one to three of
its attributes, one value per option, and WebShop's price bound.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from composers.sources.shop.goals import derive_goal
from composers.sources.shop.records import Goal, Product, Review
from composers.sources.synthetic.names import WordSpace, hash_key

__all__ = ["CATEGORIES", "SyntheticCatalog"]

_COLORS = ("black", "white", "navy blue", "grey", "red", "green", "beige", "pink")
_CLOTHING_SIZES = ("small", "medium", "large", "x-large", "xx-large")
_SHOE_SIZES = ("7", "8", "8.5", "9", "10", "11", "12")
_PACKS = ("pack of 1", "pack of 2", "pack of 6", "pack of 12")

# category -> (department path, product types, attributes, option name -> values)
CATEGORIES: dict[str, tuple[str, tuple[str, ...], tuple[str, ...], dict[str, tuple[str, ...]]]] = {
    "beauty": (
        "Beauty & Personal Care",
        ("shampoo", "conditioner", "face serum", "lipstick", "nail polish", "body lotion", "perfume", "sunscreen"),
        ("long lasting", "paraben free", "cruelty free", "sensitive skin", "natural ingredients", "travel size",
         "fragrance free", "dermatologist tested"),
        {"size": ("1.7 fl oz", "3.4 fl oz", "6.8 fl oz", "16.9 fl oz"),
         "scent": ("lavender", "vanilla", "citrus", "unscented", "rose")},
    ),
    "electronics": (
        "Electronics & Gadgets",
        ("headphones", "bluetooth speaker", "phone case", "usb cable", "wireless charger", "keyboard", "power bank",
         "smart watch"),
        ("fast charging", "noise cancelling", "high definition", "easy install", "water resistant",
         "long battery life", "wireless", "usb port"),
        {"color": _COLORS[:5]},
    ),
    "fashion": (
        "Clothing, Shoes & Jewelry",
        ("running shoes", "t-shirt", "hoodie", "jeans", "sneakers", "dress", "jacket", "sandals"),
        ("machine wash", "slim fit", "quick drying", "non slip", "arch support", "cotton spandex", "button closure",
         "long sleeve"),
        {"color": _COLORS, "size": _CLOTHING_SIZES},
    ),
    "food": (
        "Grocery & Gourmet Food",
        ("coffee beans", "green tea", "protein bar", "dark chocolate", "granola", "olive oil", "honey", "trail mix"),
        ("gluten free", "non gmo", "low sugar", "sugar free", "high protein", "keto friendly", "ready to eat",
         "individually wrapped"),
        {"flavor name": ("original", "vanilla", "chocolate", "sea salt", "caramel"), "size": _PACKS},
    ),
    "furniture": (
        "Home & Kitchen",
        ("coffee table", "office chair", "bookshelf", "bed frame", "nightstand", "sofa", "desk", "bar stool"),
        ("easy assemble", "solid wood", "space saving", "storage space", "metal legs", "living room",
         "high density", "easy clean"),
        {"color": ("walnut", "white", "black", "grey", "oak"), "size": ("small", "medium", "large")},
    ),
}  # fmt: skip
_SHOE_TYPES = {"running shoes", "sneakers", "sandals"}
_ADJECTIVES = ("premium", "classic", "essential", "deluxe", "everyday", "pro", "ultra", "original")
_TEMPLATES = (
    "i need a {type} that is {attrs}",
    "i am looking for {attrs} {type}",
    "find me a {type}, {attrs}",
    "i want to buy a {type} which is {attrs}",
)
_BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ASIN_SPACE = 36**8


class SyntheticCatalog:
    """``products`` WebShop-like products and one goal per product, from ``seed``."""

    def __init__(self, products: int = 1000, seed: int = 0) -> None:
        if not 10 <= products <= 10_000_000:
            raise ValueError(f"a synthetic catalog holds 10 to 10,000,000 products, got {products}")
        self.size, self.seed = products, seed
        self._brands = WordSpace(2, hash_key(seed, 0x5B0))
        # an affine permutation of the ASIN space: unique, random-looking ids, nothing stored
        a = hash_key(seed, 0xA51) % _ASIN_SPACE
        while a % 2 == 0 or a % 3 == 0:
            a += 1
        self._asin_a, self._asin_b = a, hash_key(seed, 0xA52) % _ASIN_SPACE
        self._categories = tuple(CATEGORIES)

    def __len__(self) -> int:
        return self.size

    def asin(self, index: int) -> str:
        x = (self._asin_a * index + self._asin_b) % _ASIN_SPACE
        digits = []
        for _ in range(8):
            x, d = divmod(x, 36)
            digits.append(_BASE36[d])
        return "B0" + "".join(digits)

    def product(self, index: int) -> Product:
        if not 0 <= index < self.size:
            raise IndexError(f"product index {index} outside [0, {self.size})")
        rng = random.Random(hash_key(self.seed, 0x9D0, index))
        category = self._categories[index % len(self._categories)]
        department, types, attribute_pool, option_pool = CATEGORIES[category]
        kind = rng.choice(types)
        brand = self._brands.word(index % min(self._brands.size, max(50, self.size // 20)))
        attributes = tuple(sorted(rng.sample(attribute_pool, rng.randint(2, 4))))
        options: list[tuple[str, tuple[str, ...]]] = []
        for name, values in option_pool.items():
            if name == "size" and kind in _SHOE_TYPES:
                values = _SHOE_SIZES
            if rng.random() < 0.85:
                options.append((name, tuple(sorted(rng.sample(values, rng.randint(2, len(values))), key=values.index))))
        adjective = rng.choice(_ADJECTIVES)
        name = f"{brand} {adjective.capitalize()} {kind.title()}, {attributes[0].title()}"
        if len(attributes) > 2:
            name += f", {attributes[1].title()}"
        low = round(rng.uniform(4.0, 180.0), 2)
        pricing = (low,) if rng.random() < 0.7 else (low, round(low * rng.uniform(1.05, 1.4), 2))
        price = pricing[0] if len(pricing) == 1 else round(rng.uniform(*pricing), 2)
        features = tuple(f"{a.capitalize()}: made to be {a} for everyday use." for a in attributes)
        description = (
            f"The {brand} {kind} is a {adjective} {kind} from our {department.lower()} range. "
            f"It is {', '.join(attributes[:-1])} and {attributes[-1]}. "
            f"Designed and tested by {brand}, model {self.asin(index)[-4:]}."
        )
        reviews = tuple(
            Review(
                float(score),
                rng.choice(("Great value", "Works as described", "Not bad", "Would buy again", "Disappointed")),
                f"{rng.choice(('Bought', 'Ordered', 'Got'))} this {kind} for {rng.choice(('home', 'work', 'a gift'))}.",
            )
            for score in rng.choices((5, 4, 3, 2, 1), weights=(5, 4, 2, 1, 1), k=rng.randint(0, 3))
        )
        rating = round(sum(r.score for r in reviews) / len(reviews), 1) if reviews else None
        return Product(
            asin=self.asin(index),
            name=name,
            category=category,
            query=kind,
            product_category=f"{department} › {category.title()} › {kind.title()}",
            pricing=pricing,
            price=price,
            attributes=attributes,
            options=tuple(options),
            description=description,
            bullet_points=features,
            reviews=reviews,
            rating=rating,
        )

    def __iter__(self) -> Iterator[Product]:
        return (self.product(i) for i in range(self.size))

    def goal(self, index: int, goal_id: str) -> Goal:
        """Goal ``index``: buy product ``index`` with some of its attributes and options."""
        product = self.product(index)
        rng = random.Random(hash_key(self.seed, 0x60A, index))
        attributes = sorted(rng.sample(product.attributes, rng.randint(1, min(3, len(product.attributes)))))
        options = [(name, rng.choice(values)) for name, values in product.options]
        template = rng.choice(_TEMPLATES)
        instruction = template.format(type=product.query, attrs=" and ".join(attributes))
        return derive_goal(goal_id, product, instruction, attributes, options, rng)

    def __repr__(self) -> str:
        return f"SyntheticCatalog(products={self.size}, seed={self.seed})"
