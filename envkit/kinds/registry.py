"""The table of objective kinds: the one place a kind is named.

Built-in kinds are listed here by import path and loaded on first use (so
``import envkit`` loads no domain). Other packages add kinds with
:func:`register_kind` or an entry point in the ``envkit.kinds`` group whose value is
an :class:`~envkit.kinds.base.ObjectiveKind` subclass. The table's order is the
order a composite env lists its parts and their action tags.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from importlib.metadata import entry_points

from composers.records import Objective, Task
from envkit.kinds.base import KindError, ObjectiveKind
from envkit.protocol.tool_calls import ToolSpec

__all__ = ["action_tools", "get_kind", "in_table_order", "kind_names", "kinds_of", "register_kind", "updatable"]

_BUILT_IN = {
    "qa": "envkit.kinds.qa:QAKind",
    "shop": "envkit.kinds.shop:ShopKind",
    "reasoning": "envkit.kinds.reasoning:ReasoningKind",
}
_PATHS: dict[str, str] = dict(_BUILT_IN)
_LOADED: dict[str, ObjectiveKind] = {}
_ENTRY_POINTS_READ = False


def _read_entry_points() -> None:
    global _ENTRY_POINTS_READ
    if _ENTRY_POINTS_READ:
        return
    _ENTRY_POINTS_READ = True
    for point in entry_points(group="envkit.kinds"):
        _PATHS.setdefault(point.name, point.value)


def register_kind(kind: ObjectiveKind | str, name: str | None = None) -> None:
    """Add a kind: an instance, or the ``"module:Class"`` path of an :class:`ObjectiveKind` subclass.

    Registering a name again replaces the kind (a plug-in may override a built-in).
    """
    if isinstance(kind, ObjectiveKind):
        _LOADED[kind.name] = kind
        _PATHS.setdefault(kind.name, "")
        return
    if name is None:
        raise KindError("register_kind needs the kind's name with an import path")
    _LOADED.pop(name, None)
    _PATHS[name] = kind


def kind_names() -> tuple[str, ...]:
    """Every registered kind, built-ins first."""
    _read_entry_points()
    return tuple(_PATHS)


def get_kind(name: str) -> ObjectiveKind:
    """The kind of objectives whose ``Objective.kind`` is ``name``."""
    kind = _LOADED.get(name)
    if kind is not None:
        return kind
    _read_entry_points()
    path = _PATHS.get(name)
    if not path:
        raise KindError(f"unknown objective kind {name!r} (registered: {', '.join(kind_names())})")
    module, _, attribute = path.partition(":")
    kind_class = getattr(importlib.import_module(module), attribute)
    kind = _LOADED[name] = kind_class()
    return kind


def in_table_order(names: Iterable[str]) -> tuple[str, ...]:
    """``names`` in the table's order (the order a composite lists its parts); an unknown kind raises."""
    found = set(names)
    for name in found:
        get_kind(name)
    return tuple(name for name in kind_names() if name in found)


def kinds_of(tasks: Iterable[Task]) -> tuple[str, ...]:
    """The kinds of the objectives in ``tasks``, in the table's order (unknown kinds raise)."""
    return in_table_order(o.kind for task in tasks for o in task.objectives)


def action_tools(actions: Iterable[str]) -> tuple[ToolSpec, ...]:
    """The tools of ``actions`` (action tags of registered kinds), in their order; an action without one raises."""
    declared = {tool.name: tool for name in kind_names() for tool in get_kind(name).tools}
    missing = [action for action in actions if action not in declared]
    if missing:
        raise KindError(
            f"no objective kind declares a tool for action(s) {', '.join(missing)} "
            "(ObjectiveKind.tools; the tools protocol needs one per action)"
        )
    return tuple(declared[action] for action in actions)


def updatable(objective: Objective) -> bool:
    """Whether the objective's kind can play knowledge updates (``ObjectiveKind.updatable``)."""
    return get_kind(objective.kind).updatable
