"""The product catalog in SQLite: a million products, none of them in RAM.

One table, one row per product: the ASIN, what a result list shows (name and price
tag, so a result page decodes no records) and the record as JSON. Reads go through
one read-only connection guarded by a lock, so the server's worker threads and the
env share it; a lookup costs tens of microseconds.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from composers.sources.shop.records import Product

__all__ = ["Catalog", "CatalogError"]

_SCHEMA = "envkit.catalog/2"


class CatalogError(RuntimeError):
    """A catalog file that is missing, not a catalog, or from another version."""


class Catalog:
    """Products by ASIN, read from a SQLite file written by :meth:`build`."""

    def __init__(self, path: str | Path, cache_size: int = 4096) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise CatalogError(f"{self.path}: no catalog file")
        try:
            self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            (schema,) = self._db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            (self._count,) = self._db.execute("SELECT COUNT(*) FROM products").fetchone()
        except (sqlite3.DatabaseError, TypeError) as error:
            raise CatalogError(f"{self.path}: not an envkit catalog ({error})") from None
        if schema != _SCHEMA:
            raise CatalogError(f"{self.path}: catalog schema {schema!r}, expected {_SCHEMA!r}")
        self._lock = threading.Lock()
        # products are immutable: keep the recently shown ones decoded (result pages repeat them)
        self._cache: OrderedDict[str, Product] = OrderedDict()
        self._cache_size = cache_size

    @classmethod
    def build(cls, path: str | Path, products: Iterable[Product], batch: int = 2048) -> Catalog:
        """Write ``products`` (streamed, in batches) to a new catalog file at ``path``."""
        path = Path(path)
        if path.exists():
            raise CatalogError(f"{path}: already exists")
        db = sqlite3.connect(path)
        try:
            db.execute("PRAGMA journal_mode = OFF")
            db.execute("PRAGMA synchronous = OFF")
            db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
            db.execute(
                "CREATE TABLE products (asin TEXT PRIMARY KEY, name TEXT, price_tag TEXT, data TEXT NOT NULL)"
                " WITHOUT ROWID"
            )
            db.execute("INSERT INTO meta VALUES ('schema', ?)", (_SCHEMA,))
            rows: list[tuple[str, str, str, str]] = []
            insert = "INSERT OR IGNORE INTO products VALUES (?, ?, ?, ?)"
            for p in products:
                rows.append((p.asin, p.name, p.price_tag, json.dumps(p.to_dict(), ensure_ascii=False)))
                if len(rows) >= batch:
                    db.executemany(insert, rows)
                    rows.clear()
            db.executemany(insert, rows)
            db.commit()
        finally:
            db.close()
        return cls(path)

    def __len__(self) -> int:
        return self._count

    def __contains__(self, asin: object) -> bool:
        return isinstance(asin, str) and self.get(asin) is not None

    def get(self, asin: str) -> Product | None:
        """The product with ``asin`` (exact, as stored), or ``None``."""
        return self.get_many([asin]).get(asin)

    def get_many(self, asins: Sequence[str]) -> dict[str, Product]:
        """The products of ``asins`` that exist, fetched in one query (a result page's worth)."""
        found: dict[str, Product] = {}
        with self._lock:
            for asin in asins:
                product = self._cache.get(asin)
                if product is not None:
                    self._cache.move_to_end(asin)
                    found[asin] = product
            missing = [a for a in dict.fromkeys(asins) if a not in found]
            if missing:
                marks = ",".join("?" * len(missing))
                rows = self._db.execute(f"SELECT asin, data FROM products WHERE asin IN ({marks})", missing).fetchall()
                for asin, data in rows:
                    found[asin] = self._cache[asin] = Product.from_dict(json.loads(data))
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return found

    def listings(self, asins: Sequence[str]) -> dict[str, tuple[str, str]]:
        """Name and price tag of each of ``asins`` that exists, in one query (what a result page shows)."""
        marks = ",".join("?" * len(asins))
        with self._lock:
            rows = self._db.execute(f"SELECT asin, name, price_tag FROM products WHERE asin IN ({marks})", list(asins))
            return {asin: (name, tag) for asin, name, tag in rows.fetchall()}

    def __iter__(self) -> Iterator[Product]:
        """Every product in ASIN order (read in pages, so memory stays flat)."""
        last = ""
        while True:
            with self._lock:
                rows = self._db.execute(
                    "SELECT asin, data FROM products WHERE asin > ? ORDER BY asin LIMIT 1024", (last,)
                ).fetchall()
            if not rows:
                return
            for _, data in rows:
                yield Product.from_dict(json.loads(data))
            last = rows[-1][0]

    def close(self) -> None:
        self._db.close()

    def __repr__(self) -> str:
        return f"Catalog({str(self.path)!r}, products={self._count})"
