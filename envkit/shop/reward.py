"""WebShop's reward for a purchase (``web_agent_site/engine/goal.py: get_reward``).

``reward = r_type * (attribute matches + option matches + price ok) / (attributes +
options + 1)`` where

- an attribute matches when one of the item's attributes has a token-set fuzzy ratio
  above 85 with it, or it appears in the item's title, features or description;
- each chosen option value (colours normalised to their base colour) counts once when
  it is one of the goal's option values (``size`` options: exactly), has a token-set
  ratio above 85 with one of them (other options), or appears in the item's title,
  features or description;
- the price is ok when the charged price is at most the goal's bound;
- ``r_type`` is 1.0, 0.5, 0.1 or 0.0 from how the item's type matches the wanted
  one: same search query, two shared category levels, or shared title words.

WebShop compares titles by their nouns from spaCy's ``en_core_web_lg``, which cannot be
installed offline; envkit compares content words (lower-cased alphabetic words that
are not stop words) by default and accepts any ``type_words`` function, e.g. one built
on a spaCy model with :func:`spacy_nouns`. Fuzzy ratios come from ``thefuzz``, as in
WebShop: its preprocessing (lower-case, punctuation to spaces, ASCII only) and its
rounding decide matches like ``XL``/``xl`` and ``sugar-free``/``sugar free``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from thefuzz import fuzz

from composers.sources.shop.records import Goal, Product

__all__ = ["EXACT_MATCH_OPTIONS", "PurchaseReward", "TypeWords", "content_words", "purchase_reward", "spacy_nouns"]

TypeWords = Callable[[str], set[str]]

_WORD = re.compile(r"[a-z]+")
_STOP_TEXT = """a an and are as at be by for from in is it of on or the to with without this that these those your
our its into over under per pack count set piece pcs inch inches oz fl ml"""
_STOP_WORDS = frozenset(_STOP_TEXT.split())
# WebShop's colour list: an option like "dark navy blue" is compared as "dark"
_COLOR_TEXT = """alabaster apricot aqua ash asphalt azure banana beige black blue blush bordeaux bronze brown burgundy
camel camo caramel champagne charcoal cheetah chestnut chocolate christmas coffee cognac copper coral cranberry cream
crystal dark denim eggplant elephant espresso fuchsia gold granite grape graphite grass gray green grey heather indigo
ivory ivy khaki lavender lemon leopard light lilac lime magenta maroon mauve merlot midnight mint mocha multicolor
mushroom mustard natural navy nude olive orange peach pewter pink plum purple rainbow red rose royal rust sand sapphire
seashell silver skull slate steel stone stonewash sunflower tan taupe teal tiger turquoise violet walnut wheat white
wine yellow"""
COLORS = tuple(_COLOR_TEXT.split())


def content_words(title: str) -> set[str]:
    """Lower-cased alphabetic words of a title that are not stop words (the default type words)."""
    return {w for w in _WORD.findall(title.lower()) if len(w) > 1 and w not in _STOP_WORDS}


def spacy_nouns(model: str = "en_core_web_lg") -> TypeWords:
    """WebShop's own type words: nouns and proper nouns from a spaCy model (if installed)."""
    import spacy

    nlp = spacy.load(model)

    def nouns(title: str) -> set[str]:
        return {t.text.lower() for t in nlp(title) if t.pos_ in ("PNOUN", "NOUN", "PROPN")}

    return nouns


def normalize_color(option: str) -> str:
    """The first WebShop base colour inside ``option``, else ``option`` itself."""
    for color in COLORS:
        if color in option:
            return color
    return option


@dataclass(frozen=True, slots=True)
class PurchaseReward:
    """The reward and its parts (WebShop's ``info`` of a purchase)."""

    total: float
    r_type: float
    attribute_matches: int
    option_matches: int
    price_ok: bool
    title_score: float
    query_match: bool
    category_match: bool


def _type_reward(product: Product, goal: Goal, type_words: TypeWords) -> tuple[float, float, bool, bool]:
    query_match = product.query == goal.query
    bought = {c.strip() for c in product.product_category.split("›")}
    wanted = {c.strip() for c in goal.product_category.split("›")}
    category_match = len(bought & wanted) >= 2
    desired = type_words(goal.name)
    title_score = 0.2 if not desired else len(type_words(product.name) & desired) / len(desired)
    r_type = 1.0 if (query_match or category_match or title_score > 0.2) else 0.5
    if title_score < 0.1:
        r_type = 0.1
    if title_score == 0.0:
        r_type = 0.0
    return r_type, title_score, query_match, category_match


def _attribute_matches(product: Product, goal: Goal) -> int:
    title = product.name.lower()
    features = " ".join(product.bullet_points).lower()
    description = product.description.lower()
    matches = 0
    for wanted in goal.attributes:
        if any(fuzz.token_set_ratio(have, wanted) > 85 for have in product.attributes) or (
            wanted in title or wanted in features or wanted in description
        ):
            matches += 1
    return matches


EXACT_MATCH_OPTIONS = ("size",)
"""Options WebShop matches exactly rather than fuzzily."""


def _option_matches(product: Product, chosen: Mapping[str, str], goal: Goal) -> int:
    """WebShop's ``get_option_reward``: each chosen option counts at most once."""
    wanted = [normalize_color(value) for _, value in goal.goal_options]
    title = product.name.lower()
    features = " ".join(product.bullet_points).lower()
    description = product.description.lower()
    matches = 0
    for name, raw in chosen.items():
        value = normalize_color(raw)
        if name.lower() in EXACT_MATCH_OPTIONS:
            matched = value in wanted
        else:
            matched = any(fuzz.token_set_ratio(w, value) > 85 for w in wanted)
        if matched or value in title or value in features or value in description:
            matches += 1
    return matches


def purchase_reward(
    product: Product,
    goal: Goal,
    options: Mapping[str, str],
    price: float | None = None,
    type_words: TypeWords = content_words,
) -> PurchaseReward:
    """WebShop's reward for buying ``product`` with ``options`` chosen, against ``goal``."""
    price = product.price if price is None else price
    r_type, title_score, query_match, category_match = _type_reward(product, goal, type_words)
    price_ok = price <= goal.price_upper
    attribute_matches = _attribute_matches(product, goal)
    option_matches = _option_matches(product, options, goal)
    total = (attribute_matches + option_matches + int(price_ok)) / (len(goal.attributes) + len(goal.goal_options) + 1)
    return PurchaseReward(
        total=total * r_type,
        r_type=r_type,
        attribute_matches=attribute_matches,
        option_matches=option_matches,
        price_ok=price_ok,
        title_score=title_score,
        query_match=query_match,
        category_match=category_match,
    )
