from __future__ import annotations

import sqlite3

import pytest

from composers.sources.shop import ShopSource
from envkit.shop.catalog import Catalog, CatalogError
from envkit.shop.reward import purchase_reward


def test_catalog_round_trips_products(tmp_path):
    source = ShopSource.synthetic(400, seed=4)
    catalog = Catalog.build(tmp_path / "c.sqlite", source.products())
    products = list(source.products())
    assert len(catalog) == 400
    assert catalog.get(products[7].asin) == products[7]
    assert catalog.get("B0NOTTHERE") is None
    assert sorted(p.asin for p in catalog) == sorted(p.asin for p in products)
    assert catalog.get_many([products[1].asin, "nope", products[2].asin]) == {
        products[1].asin: products[1],
        products[2].asin: products[2],
    }
    with pytest.raises(CatalogError, match="already exists"):
        Catalog.build(tmp_path / "c.sqlite", [])


def test_catalog_rejects_files_that_are_not_catalogs(tmp_path):
    with pytest.raises(CatalogError, match="no catalog file"):
        Catalog(tmp_path / "missing.sqlite")
    (tmp_path / "junk.sqlite").write_bytes(b"not a database at all" * 100)
    with pytest.raises(CatalogError, match="not an envkit catalog"):
        Catalog(tmp_path / "junk.sqlite")
    sqlite3.connect(tmp_path / "other.sqlite").execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(CatalogError, match="not an envkit catalog"):
        Catalog(tmp_path / "other.sqlite")


def test_reward_follows_webshops_formula():
    source = ShopSource.synthetic(300, seed=1)
    goal = next(g for g in source.goals("train") if g.goal_options and g.price_upper < 1e6)
    product = next(p for p in source.products() if p.asin == goal.asin)
    chosen = dict(goal.goal_options)
    assert purchase_reward(product, goal, chosen).total == 1.0
    # one option wrong: (attrs + options - 1 + price) / (attrs + options + 1)
    name, value = goal.goal_options[0]
    other = next(v for v in dict(product.options)[name] if v != value)
    expected = (len(goal.attributes) + len(goal.goal_options) - 1 + 1) / (
        len(goal.attributes) + len(goal.goal_options) + 1
    )
    assert purchase_reward(product, goal, {**chosen, name: other}).total == pytest.approx(expected)
    over = purchase_reward(product, goal, chosen, price=goal.price_upper + 1)
    assert not over.price_ok and over.total < 1.0
    unrelated = next(p for p in source.products() if p.category != product.category)
    assert purchase_reward(unrelated, goal, chosen).r_type < 1.0


def test_a_button_wins_over_an_option_of_the_same_name():
    """WebShop's text env keys its buttons by lower-cased text and lower-cases the click: ``click[buy now]`` buys."""
    from envkit.shop.pages import BUY, Page, Segment

    page = Page(
        "item",
        "buy a lamp",
        (Segment("click", "< Prev"), Segment("text", "style"), Segment("click", "Buy now"), Segment("click", BUY)),
    )
    assert page.find("buy now") == BUY and page.find("BUY NOW") == BUY
    only_option = Page("item", "buy a lamp", (Segment("click", "Buy now"),))
    assert only_option.find("buy now") == "Buy now"
