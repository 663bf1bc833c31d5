"""The right env for a composed task file: QA, shop or composite, from the kinds of its objectives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym

from composers.taskfiles import read_tasks

__all__ = ["make_task_file_env"]


def make_task_file_env(task_file: str | Path, **options: Any) -> gym.Env[str, str]:
    """``envkit/MultiObjectiveQA-v0``, ``envkit/WebShop-v0`` or ``envkit/Composite-v0`` over ``task_file``.

    Questions only → the QA env; purchases only → the shop env; both → the composite
    env. ``options`` go to the factory (``context``, ``token_counter``, ``retriever``...).
    """
    from envkit.envs.factory import make_qa_env
    from envkit.envs.shop_factory import make_composite_env, make_shop_env

    kinds: set[str] = set()
    for task in read_tasks(task_file):
        kinds.update(o.kind for o in task.objectives)
        if len(kinds) == 2:
            break
    if not kinds:
        raise ValueError(f"{task_file}: the task file holds no tasks")
    if kinds == {"shop"}:
        return make_shop_env(task_file=task_file, **options)
    if "shop" in kinds:
        return make_composite_env(task_file=task_file, **options)
    return make_qa_env(task_file=task_file, **options)
