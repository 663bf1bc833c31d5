"""Products bought in a shop by following WebShop instructions (text or browser mode)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym

from composers.records import Task
from composers.sources.shop import ShopSource
from envkit.kinds.base import ObjectiveKind
from envkit.protocol.agent import Agent
from envkit.protocol.tags import SHOP_TAGS, TagSet
from envkit.protocol.tool_calls import ToolSpec
from envkit.shop.engine import BACK, NEXT, PREV
from envkit.shop.pages import clean_text

__all__ = ["ShopKind", "ShopOracleAgent"]


class ShopOracleAgent:
    """Buys each goal's own product: searches its name, finds it in the results, picks the goal's options, buys.

    It reads only the observation's ``info`` (page kind and available actions), so it
    plays text and browser mode alike. If the product is not in the first five result
    pages, it buys the top result of a search for the goal's product type instead.
    """

    def __init__(self, shop: Any, tags: TagSet = SHOP_TAGS) -> None:
        self.shop, self.tags = shop, tags
        self._goals: list[Any] = []

    def reset(self, task: Task) -> None:
        """Look up the goal of every objective of ``task``."""
        self._goals = [self.shop.source.goal(o.id) for o in task.objectives]
        self._goal_index = -1

    def _start_goal(self, index: int) -> None:
        self._goal_index, self._pages_seen, self._fallback = index, 0, False
        self._chosen: set[str] = set()

    def _turn(self, state: str, action: str) -> str:
        return self.tags.format_turn(state, self.tags.actions[0], action)

    def act(self, observation: str, info: dict[str, Any]) -> str:
        """The next action towards the current goal, chosen from the page kind and its actions."""
        index = int(info.get("goal_index", 0))
        if index != self._goal_index:
            self._start_goal(index)
        goal = self._goals[index]
        available = {a.lower() for a in info.get("available_actions", ())}
        page = info.get("page")
        state = f"Purchase {index + 1} of {len(self._goals)}: looking for {goal.asin}."
        if page == "search":
            query = goal.query if self._fallback else goal.name
            return self._turn(state, f"search[{query}]")
        if page == "results":
            target = f"click[{goal.asin.lower()}]"
            if target in available:
                return self._turn(state, target)
            if not self._fallback and "click[next >]" in available and self._pages_seen < 4:
                self._pages_seen += 1
                return self._turn(state, "click[next >]")
            if not self._fallback:
                self._fallback = True
                return self._turn(state, "click[back to search]")
            navigation = {f"click[{label.lower()}]" for label in (BACK, PREV, NEXT)}
            first = next((a for a in info["available_actions"] if a.lower() not in navigation), None)
            return self._turn(state, first or "click[back to search]")
        if page == "item":
            for _, value in goal.goal_options:
                action = f"click[{clean_text(value).lower()}]"
                if value not in self._chosen and action in available:
                    self._chosen.add(value)
                    return self._turn(f"{state} Choosing {value}.", action)
            return self._turn(state, "click[buy now]")
        return self._turn(state, "click[< prev]")


class ShopKind(ObjectiveKind):
    """``kind="shop"``: the resource is the :class:`~envkit.shop.shop.Shop` the goals' ``source`` names.

    ``shop`` overrides it with a :class:`Shop`, a :class:`ShopSource` or a spec
    (``shop:products=1000,seed=0``); ``title_words`` (``content``, ``spacy[:MODEL]`` or a
    function) is how rewards compare product titles (WebShop: spaCy's nouns).
    """

    name = "shop"
    actions = ("action",)
    tools = (
        ToolSpec(
            "action",
            "Act in the shop: search[keywords] on the search page, or click[label] with one of the page's "
            "clickables (results, options, 'description', 'buy now', ...); buying moves on to the next purchase.",
            "command",
            "search[keywords] or click[label]",
        ),
    )
    resource_options = frozenset({"shop", "title_words"})
    env_options = frozenset(
        {
            "mode",
            "max_turns",
            "browser",
            "max_action_chars",
            "render_mode",
        }
    )

    def open_resource(self, tasks: Sequence[Task], shop: Any = None, title_words: Any = None, **_: Any) -> Any:
        """The shop the goals come from (or the one given as ``shop``)."""
        from envkit.envs.shop_factory import shop_of_tasks
        from envkit.shop.shop import open_shop

        if shop is None:
            opened = shop_of_tasks([self.objectives_of(t) for t in tasks])
        else:
            opened = open_shop(shop) if isinstance(shop, str | ShopSource) else shop
        return opened if title_words is None else opened.with_title_words(title_words)

    def make_env(self, tasks: Sequence[Task], resource: Any, tags: TagSet, **options: Any) -> gym.Env[str, str]:
        """A :class:`~envkit.envs.shop.WebShopEnv` over ``tasks``."""
        from envkit.envs.shop import WebShopEnv

        return WebShopEnv(tasks, resource, tags=tags, **options)

    def oracle(self, tasks: Sequence[Task], tags: TagSet) -> Agent:
        """The shop oracle over the shop the tasks' goals come from."""
        return ShopOracleAgent(self.open_resource(tasks), tags)
