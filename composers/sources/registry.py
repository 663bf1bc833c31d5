"""Build a source from a short spec string (what the CLI and ``gym.make`` accept).

Specs:

- ``synthetic`` or ``synthetic:passages=100000,seed=1,max_hops=2``: the bundled world.
- ``flashrag:nq`` (any FlashRAG config): ``RUC-NLPIR/FlashRAG_datasets`` on the Hub.
- ``hf:REPO`` or ``hf:REPO:CONFIG``: any Hub data set in a known QA schema.
- ``file:PATH``: a local JSONL/JSON/Parquet file; its questions are split into train
  (90%) and test (10%) by a hash of their text, reproducibly and disjointly;
  ``file:train=a.jsonl,test=b.jsonl`` names a file per split (train then excludes
  questions that are also in test), and ``file:test=PATH`` uses a whole file as test.
- ``shop`` or ``shop:products=1000,seed=0``: purchase goals of the bundled synthetic
  catalog; ``shop:webshop=DIR`` WebShop's files in ``DIR`` (``items_shuffle*.json``,
  ``items_ins_v2*.json``, ``items_human_ins.json`` when present).
- ``reasoning_gym:NAME[,NAME...]``: problems of reasoning-gym's generators
  (:mod:`composers.sources.reasoning_gym`).

The specs resolve through a table; :func:`register_source` adds a prefix.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from composers.sources.base import QASource, SourceError
from composers.sources.files import FileSource
from composers.sources.hub import FLASHRAG_CONFIGS, FLASHRAG_REPO, HubSource
from composers.sources.shop import ShopSource
from composers.sources.synthetic import SyntheticSource
from composers.spec_table import SpecTable

__all__ = ["SOURCES", "SourceFactory", "load_source", "register_source", "source_specs"]

_SYNTHETIC_OPTIONS = {"passages": int, "seed": int, "max_hops": int, "questions": int, "test_fraction": float}
_SHOP_OPTIONS = {"products": int, "seed": int, "test_fraction": float}


def _options(text: str, spec: str) -> dict[str, str]:
    options: dict[str, str] = {}
    for item in filter(None, text.split(",")):
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise SourceError(f"bad option {item!r} in source {spec!r} (expected key=value)")
        options[key.strip()] = value.strip()
    return options


def _numeric_options(kind: str, rest: str, spec: str, allowed: dict[str, type]) -> dict[str, int | float]:
    kwargs: dict[str, int | float] = {}
    for key, value in _options(rest, spec).items():
        if key not in allowed:
            raise SourceError(f"unknown {kind} option {key!r} (use {', '.join(allowed)})")
        try:
            kwargs[key] = allowed[key](value)
        except ValueError:
            raise SourceError(f"{kind} option {key}={value!r} is not a number") from None
    return kwargs


def _webshop_source(folder: str, spec: str) -> ShopSource:
    root = Path(folder)
    if not root.is_dir():
        raise SourceError(f"{spec}: {folder} is not a folder")

    def first(pattern: str) -> Path | None:
        found = sorted(root.glob(pattern))
        return found[0] if found else None

    products = first("items_shuffle*.json")
    if products is None:
        raise SourceError(f"{spec}: no items_shuffle*.json in {folder}")
    return ShopSource.webshop(products, first("items_ins_v2*.json"), first("items_human_ins.json"), name=spec)


@lru_cache(maxsize=8)
def _shop_source(spec: str) -> ShopSource:
    rest = spec.partition(":")[2]
    if rest.startswith("webshop="):
        return _webshop_source(rest.removeprefix("webshop="), spec)
    return ShopSource.synthetic(**_numeric_options("shop", rest, spec, _SHOP_OPTIONS))  # type: ignore[arg-type]  # the table gives each key its type


def _synthetic(rest: str, spec: str, split: str) -> QASource:
    return SyntheticSource(**_numeric_options("synthetic", rest, spec, _SYNTHETIC_OPTIONS))  # type: ignore[arg-type]  # the table gives each key its type


def _shop(rest: str, spec: str, split: str) -> QASource:
    return _shop_source(spec)


def _flashrag(rest: str, spec: str, split: str) -> QASource:
    if rest not in FLASHRAG_CONFIGS:
        raise SourceError(f"unknown FlashRAG set {rest!r} (use one of {', '.join(FLASHRAG_CONFIGS)})")
    return HubSource(FLASHRAG_REPO, rest)


def _hub(rest: str, spec: str, split: str) -> QASource:
    if not rest:
        raise SourceError("hf: needs a repository, e.g. hf:RUC-NLPIR/FlashRAG_datasets:nq")
    repo, _, config = rest.partition(":")
    return HubSource(repo, config or None)


def _file(rest: str, spec: str, split: str) -> QASource:
    if not rest:
        raise SourceError("file: needs a path, e.g. file:data/nq_train.jsonl")
    if "=" in rest:
        return FileSource(_options(rest, spec))
    return FileSource.holdout(rest)  # one file, both splits: 10% of its questions held out for test, by hash


def _reasoning_gym(rest: str, spec: str, split: str) -> QASource:
    from composers.sources.reasoning_gym import ReasoningGymSource

    return ReasoningGymSource.from_spec(rest, spec)


SourceFactory = Callable[[str, str, str], QASource]
"""Builds a source from ``(rest of the spec after the prefix, the whole spec, the split a bare file serves)``."""

SOURCES: SpecTable[QASource] = SpecTable("source", SourceError)
SOURCES.register("synthetic", _synthetic, "synthetic[:passages=N,seed=S,max_hops=H]")
SOURCES.register("flashrag", _flashrag, "flashrag:CONFIG")
SOURCES.register("hf", _hub, "hf:REPO[:CONFIG]")
SOURCES.register("file", _file, "file:PATH, file:train=A,test=B")
SOURCES.register("shop", _shop, "shop[:products=N,seed=S], shop:webshop=DIR")
SOURCES.register("reasoning_gym", _reasoning_gym, "reasoning_gym:NAME[,NAME...][,size=N,seed=S]")


def register_source(prefix: str, factory: SourceFactory, usage: str) -> None:
    """Make ``PREFIX[:...]`` specs build sources with ``factory``; ``usage`` is its line in help texts."""
    if not prefix.isidentifier():
        raise SourceError(f"a source prefix must be a name, got {prefix!r}")
    SOURCES.register(prefix, factory, usage)


def source_specs() -> str:
    """Every spec form the registry knows (for help texts and errors)."""
    return SOURCES.usage()


def load_source(spec: str | QASource, split: str = "train") -> QASource:
    """The source a spec names. ``split`` is no longer needed by any built-in source (kept for plug-ins).

    Shop sources are cached per spec, so an env resolving the goals of a task file
    and the composer that wrote it share one catalog.
    """
    if not isinstance(spec, str):
        return spec
    return SOURCES.resolve(spec, split)
