"""What a QA source is: a pool of questions per split, and optionally a corpus.

Composers only need random access to a split's questions (``questions(split)``), so
any data set fits: the bundled synthetic world, a Hugging Face data set, local files.
A source that also knows how its answers connect (the synthetic world) implements
:class:`ChainableSource`, which the chained strategy uses to build real bridge-entity
chains instead of templated references.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol, runtime_checkable

from composers.records import Objective

__all__ = ["ChainableSource", "CorpusSource", "Document", "QASource", "SourceError", "SourceUnavailable"]

Document = tuple[str, str, str]
"""A corpus passage as ``(id, title, text)``."""


class SourceError(ValueError):
    """A source that cannot be built or read (bad spec, bad file, missing split)."""


class SourceUnavailable(SourceError):
    """A remote source that cannot be reached (e.g. the Hugging Face Hub is offline)."""


@runtime_checkable
class QASource(Protocol):
    """A named pool of questions per split."""

    name: str

    def questions(self, split: str) -> Sequence[Objective]:
        """All questions of ``split``, in a fixed order (random access)."""
        ...


@runtime_checkable
class ChainableSource(QASource, Protocol):
    """A source that can build chains where each answer is the next subject."""

    def chain(self, split: str, n: int, key: int) -> tuple[Objective, ...]:
        """``n`` interdependent objectives, deterministic in ``key``."""
        ...


@runtime_checkable
class CorpusSource(QASource, Protocol):
    """A source that ships the passages its questions are answered from."""

    def documents(self) -> Iterable[Document]:
        """Every passage of the corpus as ``(id, title, text)``."""
        ...
