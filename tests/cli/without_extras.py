"""Run the ``envkit`` command as if some packages were not installed.

``python tests/cli/without_extras.py torch,trl -- eval --policy tiny`` hides the named
top-level packages from every import finder (``import torch`` raises ModuleNotFoundError
and ``importlib.util.find_spec("torch")`` is None, as on a machine without them), then
runs the CLI's entry point with the remaining arguments.
"""

from __future__ import annotations

import sys
from typing import Any


class _Hiding:
    """An import finder that answers None for hidden packages and defers to the finder it wraps otherwise."""

    def __init__(self, inner: Any, hidden: frozenset[str]) -> None:
        self._inner, self._hidden = inner, hidden

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname.split(".")[0] in self._hidden:
            return None
        find = getattr(self._inner, "find_spec", None)
        return find(fullname, path, target) if find is not None else None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def hide(packages: frozenset[str]) -> None:
    sys.meta_path[:] = [_Hiding(finder, packages) for finder in sys.meta_path]


if __name__ == "__main__":
    hidden, separator, *args = sys.argv[1:]
    assert separator == "--", "usage: without_extras.py PKG,PKG -- ARGS"
    hide(frozenset(p for p in hidden.split(",") if p))
    from envkit.cli.app import main

    main(args)
