"""``gym.make("envkit/WebShop-v0", ...)``: a shop, its goals as tasks, and the protocol wrappers.

Tasks are composed from the shop's goals (``n_goals`` purchases per episode, one by
default as in WebShop) or read from a task file of shop objectives. ``mode`` picks
text or browser; everything else is passed to :class:`WebShopEnv`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym

from composers.compose import compose
from composers.records import Task
from composers.taskfiles import read_tasks
from envkit.deprecations import moved_names
from envkit.shop.shop import DEFAULT_SHOP, open_shop

__all__ = ["make_shop_env", "shop_of_tasks"]

__getattr__ = moved_names(__name__, {"make_composite_env": "envkit.envs.from_tasks"})


def shop_of_tasks(tasks: Sequence[Task], retriever: str = "bm25") -> Any:
    """The one shop that every objective of ``tasks`` (shop goals) comes from."""
    sources = {o.source for t in tasks for o in t.objectives}
    if len(sources) != 1:
        found = ", ".join(sorted(sources)) or "none"
        raise ValueError(f"the tasks must hold shop goals of exactly one shop, found: {found}")
    return open_shop(sources.pop(), retriever)


def make_shop_env(
    shop: str = DEFAULT_SHOP,
    n_goals: int = 1,
    split: str = "train",
    seed: int = 0,
    count: int = 100_000,
    task_file: str | Path | None = None,
    retriever: str = "bm25",
    **options: Any,
) -> gym.Env[str, str]:
    """Build the shop env with its protocol wrappers.

    ``n_goals`` purchases per task from ``shop``'s goals, or the tasks of ``task_file``;
    ``retriever`` is the shop's product search. ``options``: ``context``,
    ``format_penalty``, ``token_counter``, ``tags`` and what :class:`WebShopEnv` takes
    (``mode``, ``browser``, ``max_turns``...).
    """
    from envkit.envs.from_tasks import make_tasks_env

    if task_file is not None:
        tasks: Sequence[Task] = list(read_tasks(task_file))
        if not tasks:
            raise ValueError(f"{task_file}: the task file holds no tasks")
        store = shop_of_tasks(tasks, retriever)
    else:
        store = open_shop(shop, retriever)
        tasks = compose(store.source, "parallel", n_goals, count, split, seed)
    return make_tasks_env(tasks, kinds=("shop",), shop=store, **options)
