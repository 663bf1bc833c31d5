"""Spec strings resolved through a table: ``PREFIX`` or ``PREFIX:REST`` → an object.

Sources, strategies, retrievers, index back-ends, context builders and policies are
all named by short strings on the command line and in ``gym.make``. Each family keeps
one :class:`SpecTable`: a row per prefix with the factory that builds it and the usage
line help texts and errors are generated from, so adding a back-end is one
``register`` call and never another ``if`` branch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

__all__ = ["SpecTable"]

T = TypeVar("T")


class SpecTable(Generic[T]):
    """One family of specs.

    Args:
        what: the family's name in errors ("retriever", "context builder").
        error: the exception class a bad spec raises (one line naming the spec).
        separator: what splits a prefix from the rest (``:``; ``(`` for ``window(2)``).

    """

    def __init__(self, what: str, error: type[Exception] = ValueError, separator: str = ":") -> None:
        self.what, self.error, self.separator = what, error, separator
        self._rows: dict[str, tuple[Callable[..., T], str]] = {}

    def register(self, prefix: str, factory: Callable[..., T], usage: str | None = None) -> None:
        """Make specs ``prefix`` and ``prefix<separator>...`` build with ``factory(rest, spec, *args, **kwargs)``."""
        self._rows[prefix] = (factory, usage or prefix)

    def __contains__(self, prefix: str) -> bool:
        return prefix in self._rows

    def prefixes(self) -> tuple[str, ...]:
        """The registered prefixes, in registration order."""
        return tuple(self._rows)

    def usage(self) -> str:
        """Every accepted form, for help texts and errors."""
        return ", ".join(usage for _, usage in self._rows.values())

    def resolve(self, spec: str, *args: Any, **kwargs: Any) -> T:
        """Build what ``spec`` names; an unknown prefix is one line listing every form."""
        prefix, _, rest = spec.partition(self.separator)
        row = self._rows.get(prefix)
        if row is None:
            raise self.error(f"unknown {self.what} {spec!r} (use {self.usage()})")
        return row[0](rest, spec, *args, **kwargs)
