"""Shop fixtures: a small synthetic shop and a WebShop-format folder written by the tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envkit.shop.shop import open_shop

SMALL_SHOP = "shop:products=300,seed=1"


@pytest.fixture(scope="session", autouse=True)
def shop_cache(tmp_path_factory):
    import os

    folder = tmp_path_factory.mktemp("envkit-cache")
    previous = os.environ.get("ENVKIT_CACHE")
    os.environ["ENVKIT_CACHE"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("ENVKIT_CACHE", None)
    else:
        os.environ["ENVKIT_CACHE"] = previous


@pytest.fixture(scope="session")
def small_shop(shop_cache):
    return open_shop(SMALL_SHOP)


def _raw_product(asin: str, name: str, query: str, price: str, options: dict, bullets: list[str]) -> dict:
    return {
        "asin": asin,
        "name": name,
        "category": "fashion",
        "query": query,
        "product_category": "Clothing, Shoes & Jewelry › Men › Shoes › Athletic",
        "pricing": price,
        "customization_options": {k: [{"value": v, "image": None} for v in vs] for k, vs in options.items()},
        "small_description": bullets,
        "full_description": f"{name}. A product for tests.",
        "images": ["https://example.com/img.jpg"],
    }


def write_webshop_folder(root: Path) -> Path:
    """A tiny WebShop data folder: products, attributes and human instructions."""
    products = [
        _raw_product("B000SHOE01", "Trailblazer Running Shoe for Men", "running shoes men", "$45.99",
                     {"Color": ["Black", "Navy Blue/White"], "Size": ["9", "10"]}, ["Rubber sole", "Arch support"]),
        _raw_product("B000SHOE02", "Citywalk Leather Sneaker", "sneakers men", "$30.00$60.00",
                     {"Color": ["Brown"], "Size": ["10", "11"]}, ["Leather upper"]),
        _raw_product("B000XSS003", "<script>window.pwned=1</script> Evil Boot", "boots men", "$20.00",
                     {}, ["<b>bold</b> claim & more"]),
        _raw_product("nan", "skipped", "x", "$1.00", {}, []),
    ]  # fmt: skip
    attributes = {
        "B000SHOE01": {"attributes": ["arch support", "rubber sole"], "instruction": "i need running shoes with arch "
                       "support", "instruction_attributes": ["arch support"]},
        "B000SHOE02": {"attributes": ["leather upper"], "instruction": "i want leather sneakers",
                       "instruction_attributes": ["leather upper"]},
    }  # fmt: skip
    human = {
        "B000SHOE01": [
            {"instruction": "i'm looking for men's running shoes with arch support in navy blue, size 10.",
             "instruction_attributes": ["arch support"], "instruction_options": ["navy blue | white", "10"]},
            {"instruction": "no attributes here", "instruction_attributes": [], "instruction_options": []},
        ],
        "B000SHOE02": [
            {"instruction": "leather sneakers in brown", "instruction_attributes": ["leather upper"],
             "instruction_options": ["brown"]},
        ],
        "B000XSS003": [
            {"instruction": "a boot with a bold claim", "instruction_attributes": ["bold claim"],
             "instruction_options": []},
        ],
    }  # fmt: skip
    root.mkdir(parents=True, exist_ok=True)
    (root / "items_shuffle_1000.json").write_text(json.dumps(products))
    (root / "items_ins_v2_1000.json").write_text(json.dumps(attributes))
    (root / "items_human_ins.json").write_text(json.dumps(human))
    return root


@pytest.fixture(scope="session")
def webshop_folder(tmp_path_factory) -> Path:
    return write_webshop_folder(tmp_path_factory.mktemp("webshop"))
