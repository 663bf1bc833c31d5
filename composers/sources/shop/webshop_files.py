"""Read WebShop's own data files into shop records.

- ``items_shuffle*.json``: a JSON list of scraped products (``asin``, ``name``,
  ``category``, ``query``, ``product_category``, ``pricing`` like ``"$12.99"`` or
  ``"$12.99$15.99"``, ``customization_options``, ``small_description``,
  ``full_description``, ...), cleaned the way WebShop's ``load_products`` cleans them:
  option names and values lower-cased, ``/`` in option values written ``" | "``, the
  price of a range drawn inside it (seeded per ASIN, so the same every run).
- ``items_ins_v2*.json``: ``{asin: {attributes, instruction, instruction_attributes}}``,
  the products' attributes and WebShop's synthetic instructions.
- ``items_human_ins.json``: ``{asin: [{instruction, instruction_attributes,
  instruction_options}, ...]}``, the human-written instructions.

Errors name the file and what is wrong with it.
"""

from __future__ import annotations

import json
import random
import re
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from composers.sources.shop.records import Product, Review

__all__ = ["WebShopFileError", "read_attributes", "read_human_instructions", "read_products"]

_PRICE = re.compile(r"[^\d.]")


class WebShopFileError(ValueError):
    """A WebShop data file that cannot be read."""


def _load_json(path: Path, expected: type) -> Any:
    try:
        with path.open(encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise WebShopFileError(f"{path}: no such file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise WebShopFileError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(data, expected):
        raise WebShopFileError(f"{path}: expected a JSON {expected.__name__}, got {type(data).__name__}")
    return data


def _pricing(raw: Any) -> tuple[float, ...]:
    if not raw:
        return (100.0,)  # WebShop's default for products without a price
    if isinstance(raw, (int, float)):
        return (float(raw),)
    if isinstance(raw, list):
        return tuple(float(p) for p in raw[:2])
    prices = [_PRICE.sub("", part) for part in str(raw).split("$")[1:]]
    values = tuple(float(p) for p in prices if p and p != ".")
    return values[:2] or (100.0,)


def _options(raw: Mapping[str, Any] | None) -> tuple[tuple[str, tuple[str, ...]], ...]:
    options = []
    for name, contents in (raw or {}).items():
        if not contents:
            continue
        values = tuple(
            str(c["value"] if isinstance(c, Mapping) else c).strip().replace("/", " | ").lower() for c in contents
        )
        options.append((str(name).lower(), values))
    return tuple(options)


def _product(raw: Mapping[str, Any], attributes: Mapping[str, Any], path: Path, index: int) -> Product | None:
    asin = str(raw.get("asin", ""))
    if asin in ("", "nan") or len(asin) > 10:
        return None  # WebShop skips these too
    try:
        pricing = _pricing(raw.get("pricing"))
        price = pricing[0]
        if len(pricing) == 2:
            low, high = sorted(pricing)
            price = round(random.Random(zlib.crc32(asin.encode())).uniform(low, high), 2)
        bullets = raw.get("small_description") or []
        reviews = tuple(
            Review(float(r.get("score", r.get("stars", 0)) or 0), str(r.get("title", "")), str(r.get("body", "")))
            for r in raw.get("Reviews") or raw.get("reviews") or ()
        )
        rating = raw.get("average_rating") or raw.get("Rating")
        return Product(
            asin=asin,
            name=str(raw["name"]),
            category=str(raw.get("category", "")),
            query=str(raw.get("query", "")).lower().strip(),
            product_category=str(raw.get("product_category", "")),
            pricing=pricing,
            price=price,
            attributes=tuple(str(a) for a in attributes.get(asin, {}).get("attributes") or ()),
            options=_options(raw.get("customization_options")),
            description=str(raw.get("full_description") or ""),
            bullet_points=tuple(str(b) for b in (bullets if isinstance(bullets, list) else [bullets])),
            reviews=reviews,
            rating=float(rating) if isinstance(rating, (int, float)) else None,
        )
    except KeyError as missing:
        raise WebShopFileError(f"{path}: product {index} ({asin}) has no field {missing}") from None
    except (TypeError, ValueError, AttributeError) as error:
        raise WebShopFileError(f"{path}: product {index} ({asin}) is malformed: {error}") from None


def read_products(path: str | Path, attributes: Mapping[str, Any] | None = None) -> Iterator[Product]:
    """The products of an ``items_shuffle*.json`` file, de-duplicated by ASIN, in file order."""
    path = Path(path)
    raw = _load_json(path, list)
    seen: set[str] = set()
    for index, item in enumerate(raw):
        if not isinstance(item, Mapping):
            raise WebShopFileError(f"{path}: product {index} is not a JSON object")
        product = _product(item, attributes or {}, path, index)
        if product is not None and product.asin not in seen:
            seen.add(product.asin)
            yield product


def read_attributes(path: str | Path) -> dict[str, Any]:
    """``items_ins_v2*.json``: attributes and synthetic instructions per ASIN."""
    path = Path(path)
    data = _load_json(path, dict)
    for asin, entry in data.items():
        if not isinstance(entry, Mapping):
            raise WebShopFileError(f"{path}: the entry of {asin} is not a JSON object")
    return data


def read_human_instructions(path: str | Path) -> dict[str, list[dict[str, Any]]]:
    """``items_human_ins.json``: human-written instructions per ASIN."""
    path = Path(path)
    data = _load_json(path, dict)
    for asin, entries in data.items():
        if not isinstance(entries, list) or not all(isinstance(e, Mapping) for e in entries):
            raise WebShopFileError(f"{path}: the entry of {asin} is not a list of instruction objects")
        for entry in entries:
            if "instruction" not in entry:
                raise WebShopFileError(f"{path}: an instruction of {asin} has no 'instruction' field")
    return data
