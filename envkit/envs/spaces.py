"""A Gymnasium text space for arbitrary Unicode.

``gymnasium.spaces.Text`` only contains strings over a fixed character set, but
questions, passages and model outputs hold any Unicode ("Beyoncé", "Zürich"). The
:class:`UnicodeText` space contains every ``str`` up to ``max_length`` characters and
samples printable ASCII (what ``check_env`` and random agents need).

For ``AsyncVectorEnv`` the shared memory stores a length and the code points of each
env's text. Gymnasium reads shared memory once, at construction, and relies on the
result being a live view (as numpy arrays are); its own ``Text`` support returns
frozen strings there, so async text observations never change. Reading a
:class:`UnicodeText` buffer returns :class:`SharedTextBatch`, a live view that
decodes on access and becomes a plain tuple of strings when copied.
"""

from __future__ import annotations

import multiprocessing as mp
import string
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import numpy as np
from gymnasium.spaces import Text
from gymnasium.vector.utils import shared_memory as gym_shared_memory

__all__ = ["SharedTextBatch", "UnicodeText"]


class UnicodeText(Text):
    """Every string of ``min_length`` to ``max_length`` characters."""

    def __init__(self, max_length: int, *, min_length: int = 0, seed: Any = None) -> None:
        super().__init__(max_length, min_length=min_length, charset=string.printable, seed=seed)

    def contains(self, x: Any) -> bool:
        """Any ``str`` of an allowed length (Gymnasium's ``Text`` would check a character set)."""
        return isinstance(x, str) and self.min_length <= len(x) <= self.max_length

    def __repr__(self) -> str:
        return f"UnicodeText({self.min_length}, {self.max_length})"

    def __eq__(self, other: Any) -> bool:
        return (
            isinstance(other, UnicodeText)
            and self.min_length == other.min_length
            and self.max_length == other.max_length
        )

    __hash__ = None  # type: ignore[assignment]  # a live view changes: unhashable, as a list is


@gym_shared_memory.create_shared_memory.register(UnicodeText)
def _create(space: UnicodeText, n: int = 1, ctx: ModuleType = mp) -> Any:
    return ctx.Array(np.dtype(np.int32).char, n * (space.max_length + 1))


class SharedTextBatch(Sequence[str]):
    """A live view of the texts in a shared-memory buffer, one per env."""

    def __init__(self, rows: np.ndarray) -> None:
        self._rows = rows

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, index: int) -> str:  # type: ignore[override]  # int indices only: a batch of envs
        row = self._rows[index]
        return row[1 : 1 + row[0]].tobytes().decode("utf-32-le")

    def __deepcopy__(self, memo: dict[int, Any]) -> tuple[str, ...]:
        return tuple(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and tuple(self) == tuple(other)

    def __repr__(self) -> str:
        return f"SharedTextBatch({tuple(self)!r})"

    __hash__ = None  # type: ignore[assignment]  # a live view changes: unhashable, as a list is


@gym_shared_memory.read_from_shared_memory.register(UnicodeText)
def _read(space: UnicodeText, shared_memory: Any, n: int = 1) -> SharedTextBatch:
    return SharedTextBatch(np.frombuffer(shared_memory.get_obj(), dtype=np.int32).reshape((n, space.max_length + 1)))


@gym_shared_memory.write_to_shared_memory.register(UnicodeText)
def _write(space: UnicodeText, index: int, value: str, shared_memory: Any) -> None:
    width = space.max_length + 1
    row = np.frombuffer(shared_memory.get_obj(), dtype=np.int32)[index * width : (index + 1) * width]
    points = np.frombuffer(value.encode("utf-32-le"), dtype=np.int32)
    row[0] = len(points)
    row[1 : 1 + len(points)] = points
