"""The retriever protocol: every search back-end plugs into every env through it.

A retriever answers a query with the top-k :class:`Passage` s, best first, and
answers a batch of queries in one call (back-ends batch far faster than they loop).
Envs call nothing else, so embedded BM25, Lucene, dense indexes and a remote server
are interchangeable. :func:`format_information` renders passages the way MEM1 and
Search-R1 show them to the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["BaseRetriever", "Passage", "Retriever", "RetrieverError", "format_passages"]


class RetrieverError(RuntimeError):
    """A retriever that cannot be built or cannot answer."""


@dataclass(frozen=True, slots=True)
class Passage:
    """One retrieved passage."""

    id: str
    title: str
    text: str
    score: float = 0.0

    @property
    def contents(self) -> str:
        r"""Search-R1's ``contents``: the title line, a newline, the text (what the corpus held)."""
        return f"{self.title}\n{self.text}" if self.text else self.title


class BaseRetriever:
    """Base of envkit's retrievers: the search contract, and sharing on copy.

    Subclasses implement :meth:`_batch_search` for a non-empty list of queries and a
    valid ``k``; ``search`` and ``batch_search`` check their arguments once here.
    An index is a read-only service that envs share: ``gym.make`` deep-copies its
    keyword arguments into the env spec, which must neither duplicate a large index
    nor fail on handles that cannot be copied (a JVM searcher, a faiss index, an HTTP
    client), so a copy is the same instance.
    """

    def search(self, query: str, k: int = 3) -> list[Passage]:
        """The ``k`` best passages for ``query``, best first."""
        return self.batch_search([query], k)[0]

    def batch_search(self, queries: Sequence[str], k: int = 3) -> list[list[Passage]]:
        """``search`` for each query, in one call."""
        if k < 1:
            raise RetrieverError(f"k must be at least 1, got {k}")
        if not queries:
            return []
        return self._batch_search(list(queries), k)

    def _batch_search(self, queries: list[str], k: int) -> list[list[Passage]]:
        raise NotImplementedError

    def __copy__(self) -> BaseRetriever:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> BaseRetriever:
        return self


@runtime_checkable
class Retriever(Protocol):
    """Top-k passage search."""

    def search(self, query: str, k: int = 3) -> list[Passage]:
        """The ``k`` best passages for ``query``, best first."""
        ...

    def batch_search(self, queries: Sequence[str], k: int = 3) -> list[list[Passage]]:
        """``search`` for each query, in one call."""
        ...


def format_passages(passages: Sequence[Passage]) -> str:
    """Search results exactly as Search-R1's and MEM1's ``_passages2string`` render them.

    ``Doc {i}(Title: {title line}) {text}`` and a newline per passage, the title line as
    the corpus wrote it (quoted in wiki-18). No passage at all is ``No results.`` (where
    the original renders an empty string) so that an agent is told so.
    """
    if not passages:
        return "No results."
    return "".join(f"Doc {i}(Title: {p.title}) {p.text}\n" for i, p in enumerate(passages, start=1))
