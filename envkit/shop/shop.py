"""A ready shop: a goal source, its SQLite catalog and a product search, built once and cached.

``open_shop("shop:products=10000")`` builds the catalog file and the search index the
first time (streaming the products, so memory stays flat) into a cache folder, and
opens them from there afterwards (the BM25 index memory-mapped). The cache folder is
``$ENVKIT_CACHE/shop`` (default ``~/.cache/envkit/shop``), one sub-folder per catalog,
written atomically so an interrupted build leaves nothing half-done behind.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from composers.atomic import atomic_folder
from composers.sources.registry import load_source
from composers.sources.shop import Product, ShopSource
from envkit.cache import envkit_cache
from envkit.retrieval.corpus import Corpus
from envkit.retrieval.factory import make_retriever
from envkit.retrieval.store import build_index, load_index
from envkit.shop.catalog import Catalog
from envkit.shop.engine import ShopEngine
from envkit.shop.reward import TypeWords, content_words, spacy_nouns
from envkit.shop.search import ProductSearch, product_document, product_documents

__all__ = ["DEFAULT_SHOP", "Shop", "cache_root", "open_shop", "title_words"]

DEFAULT_SHOP = "shop:products=1000,seed=0"
_CACHE_VERSION = "2"


def cache_root() -> Path:
    return envkit_cache() / "shop"


@dataclass(frozen=True)
class Shop:
    """Everything a shop session needs: goals, catalog, search and the page engine."""

    source: ShopSource
    catalog: Catalog
    search: ProductSearch
    engine: ShopEngine

    def with_title_words(self, words: str | TypeWords) -> Shop:
        """A copy whose rewards compare titles by ``words`` (``content``, ``spacy[:MODEL]``, a function)."""
        return replace(self, engine=ShopEngine(self.catalog, self.search, title_words(words)))


def title_words(spec: str | TypeWords) -> TypeWords:
    """The title-word function a spec names: ``content`` (default, offline) or ``spacy[:MODEL]`` (WebShop's nouns)."""
    if callable(spec):
        return spec
    kind, _, model = spec.partition(":")
    if kind == "content" and not model:
        return content_words
    if kind == "spacy":
        try:
            return spacy_nouns(model or "en_core_web_lg")
        except (ImportError, OSError):
            install = f"pip install spacy && python -m spacy download {model or 'en_core_web_lg'}"
            raise ValueError(f"title_words={spec!r} needs spaCy and its model: {install}") from None
    raise ValueError(f"unknown title_words {spec!r} (use content or spacy[:MODEL])")


def _cache_key(source: ShopSource, retriever: str) -> str:
    parts = [_CACHE_VERSION, source.name, retriever]
    for path in source.files:  # files can change under the same name
        stat = path.stat()
        parts.append(f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:20]


def _build(source: ShopSource, retriever: str, folder: Path) -> None:
    """Write the catalog and (for bm25) the search index in one pass over the products."""
    corpus = Corpus()

    def products_seen() -> Iterator[Product]:
        for product in source.products():  # synthetic products are computed: do it once
            if retriever == "bm25":
                doc_id, title, text = product_document(product)
                corpus.ids.append(doc_id)
                corpus.titles.append(title)
                corpus.texts.append(text)
            yield product

    with atomic_folder(folder) as staging:
        Catalog.build(staging / "catalog.sqlite", products_seen()).close()
        if retriever == "bm25":
            build_index("bm25", corpus, staging / "search")


@lru_cache(maxsize=8)
def _open(spec: str, retriever: str, cache: str) -> Shop:
    source = load_source(spec)
    if not isinstance(source, ShopSource):
        raise ValueError(f"{spec!r} is not a shop source (use shop[:products=N,seed=S] or shop:webshop=DIR)")
    return _open_source(source, retriever, cache)


def _open_source(source: ShopSource, retriever: str, cache: str) -> Shop:
    folder = Path(cache) / _cache_key(source, retriever)
    if not (folder / "catalog.sqlite").is_file():
        try:
            _build(source, retriever, folder)
        except OSError:
            if not (folder / "catalog.sqlite").is_file():
                raise  # not just another process finishing the same build first
    catalog = Catalog(folder / "catalog.sqlite")
    if retriever == "bm25":
        search_backend = load_index(folder / "search")
    else:  # any other retriever spec indexes the products in this process
        search_backend = make_retriever(retriever, product_documents(source.products()))
    search = ProductSearch(search_backend)
    return Shop(source, catalog, search, ShopEngine(catalog, search))


def open_shop(
    spec: str | ShopSource = DEFAULT_SHOP, retriever: str = "bm25", cache_dir: str | Path | None = None
) -> Shop:
    """The shop of a source spec (cached per process and on disk), or of the :class:`ShopSource` given (as it is)."""
    if isinstance(spec, ShopSource):
        return _open_source(spec, retriever, str(cache_dir or cache_root()))
    return _open(spec, retriever, str(cache_dir or cache_root()))
