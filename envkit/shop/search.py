"""Product search through the :class:`~envkit.retrieval.base.Retriever` protocol.

Each product is indexed as one passage (title = product name; text = query, category,
features, description and option values), so any retriever spec works: the embedded
BM25 by default, Lucene or dense for large catalogs. A search returns the top ASINs;
the shop pages them ten at a time, as WebShop does with its top 50.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator
from threading import Lock

from composers.sources.base import Document
from composers.sources.shop.records import Product
from envkit.retrieval.base import Retriever

__all__ = ["SEARCH_RETURN_N", "ProductSearch", "product_document", "product_documents"]

SEARCH_RETURN_N = 50


def product_document(p: Product) -> Document:
    """A product as an ``(asin, name, text)`` passage for any retriever."""
    options = " ".join(v for _, values in p.options for v in values)
    return p.asin, p.name, " ".join((p.query, p.product_category, *p.bullet_points, p.description, options))


def product_documents(products: Iterable[Product]) -> Iterator[Document]:
    """Products as passages (see :func:`product_document`)."""
    return (product_document(p) for p in products)


class ProductSearch:
    """Top-``SEARCH_RETURN_N`` ASINs per query, with a small cache for paging through results."""

    def __init__(self, retriever: Retriever, cache_size: int = 256) -> None:
        self.retriever = retriever
        self._cache: OrderedDict[str, tuple[str, ...]] = OrderedDict()
        self._cache_size = cache_size
        self._lock = Lock()

    def search(self, query: str) -> tuple[str, ...]:
        key = query.lower()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        asins = tuple(p.id for p in self.retriever.search(query, SEARCH_RETURN_N))
        with self._lock:
            self._cache[key] = asins
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return asins
