"""Gymnasium environments of envkit, registered under the ``envkit/`` namespace."""

from __future__ import annotations

import gymnasium as gym

from envkit.envs.qa import MultiObjectiveQAEnv
from envkit.envs.spaces import UnicodeText
from envkit.envs.wrappers import FormatPenalty, ProtocolContext

__all__ = [
    "COMPOSITE_ENV_ID",
    "QA_ENV_ID",
    "SHOP_ENV_ID",
    "TASKS_ENV_ID",
    "TASK_FILE_ENV_ID",
    "FormatPenalty",
    "MultiObjectiveQAEnv",
    "ProtocolContext",
    "UnicodeText",
    "register_envs",
]

QA_ENV_ID = "envkit/MultiObjectiveQA-v0"
SHOP_ENV_ID = "envkit/WebShop-v0"
COMPOSITE_ENV_ID = "envkit/Composite-v0"
TASK_FILE_ENV_ID = "envkit/TaskFile-v0"
TASKS_ENV_ID = "envkit/Tasks-v0"


def register_envs() -> None:
    """Register envkit's env ids with Gymnasium (idempotent)."""
    if QA_ENV_ID not in gym.registry:
        gym.register(id=QA_ENV_ID, entry_point="envkit.envs.factory:make_qa_env")
    if SHOP_ENV_ID not in gym.registry:
        gym.register(id=SHOP_ENV_ID, entry_point="envkit.envs.shop_factory:make_shop_env")
    if COMPOSITE_ENV_ID not in gym.registry:
        gym.register(id=COMPOSITE_ENV_ID, entry_point="envkit.envs.from_tasks:make_composite_env")
    if TASKS_ENV_ID not in gym.registry:
        gym.register(id=TASKS_ENV_ID, entry_point="envkit.envs.from_tasks:make_composed_env")
    if TASK_FILE_ENV_ID not in gym.registry:
        gym.register(id=TASK_FILE_ENV_ID, entry_point="envkit.envs.from_tasks:make_task_file_env")


register_envs()
