"""Public names that moved keep working from their old place for a while, with a warning naming the new one.

A user's script written against an earlier envkit should keep running after an upgrade,
and say what to change: a moved name is served from its old module through
:func:`moved_names` (a module-level ``__getattr__``) and warns with
:class:`DeprecationWarning`. Each move is also listed under "Deprecated" in CHANGELOG.md.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["moved_names", "warn_moved"]


def warn_moved(old: str, new: str) -> None:
    """Warn that ``old`` (a dotted name) is now ``new``, pointing at the caller's caller."""
    warnings.warn(f"{old} moved to {new}; import it from there (the old name will be removed)", DeprecationWarning, 3)


def moved_names(module: str, moves: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` serving moved names, each with a :class:`DeprecationWarning`.

    ``moves`` maps an old name to its new module (``"envkit.metrics"``), or to its new module
    and name when it was renamed too (``"envkit.cache:envkit_cache"``).
    """

    def __getattr__(name: str) -> Any:
        target = moves.get(name)
        if target is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        new_module, _, new_name = target.partition(":")
        new_name = new_name or name
        warn_moved(f"{module}.{name}", f"{new_module}.{new_name}")
        return getattr(importlib.import_module(new_module), new_name)

    return __getattr__
