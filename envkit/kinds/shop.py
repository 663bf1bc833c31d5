"""Products bought in a shop by following WebShop instructions (text or browser mode)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym

from composers.records import Task
from envkit.kinds.base import ObjectiveKind
from envkit.policy.scripted import Agent, ShopOracleAgent
from envkit.protocol.tags import TagSet

__all__ = ["ShopKind"]


class ShopKind(ObjectiveKind):
    """``kind="shop"``: the resource is the :class:`~envkit.shop.shop.Shop` the goals' ``source`` names.

    ``shop`` overrides it with a shop object or a spec (``shop:products=1000,seed=0``).
    """

    name = "shop"
    actions = ("action",)
    resource_options = frozenset({"shop"})
    env_options = frozenset(
        {
            "mode",
            "max_turns",
            "html",
            "screenshot",
            "action_timeout",
            "server_url",
            "chromium",
            "max_action_chars",
            "render_mode",
        }
    )

    def open_resource(self, tasks: Sequence[Task], shop: Any = None, **_: Any) -> Any:
        from envkit.envs.shop_factory import shop_of_tasks
        from envkit.shop.shop import open_shop

        if shop is None:
            return shop_of_tasks([self.objectives_of(t) for t in tasks])
        return open_shop(shop) if isinstance(shop, str) else shop

    def make_env(self, tasks: Sequence[Task], resource: Any, tags: TagSet, **options: Any) -> gym.Env[str, str]:
        from envkit.envs.shop import WebShopEnv

        return WebShopEnv(tasks, resource, tags=tags, **options)

    def oracle(self, tasks: Sequence[Task], tags: TagSet) -> Agent:
        return ShopOracleAgent(self.open_resource(tasks), tags)
