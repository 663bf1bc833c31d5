"""The shop environment: buy the product a WebShop instruction describes.

An episode is a task whose objectives are shop goals (usually one; several are bought
one after the other). Each step takes one protocol turn,
``<IS>...</IS><action>search[...]</action>`` or ``<action>click[...]</action>``, and
answers with the page it led to, inside ``<information>``: the page text in
WebShop's ``[SEP]`` format and the actions the page allows. Buying scores the
purchase with WebShop's reward (``reward / n_goals`` per purchase, so an episode sums
to the mean); success is a reward of 1.0.

``mode="text"`` runs in process; ``mode="browser"`` drives Chromium against the shop's
server on 127.0.0.1. The same actions give the same observations and rewards in both.
Malformed turns and actions a page does not offer are observations saying why; a
browser failure (Chromium crashed, an action timed out) ends the episode as
truncated with ``info["browser_error"]``, and the next ``reset`` starts a new Chromium.

``info`` keys: ``task_id``, ``n_objectives``, ``turn``, ``goal_index``, ``page``,
``available_actions``, ``action`` (``search``, ``click`` or ``None``) and ``shop_action``
and ``action_content`` (its text, e.g. ``search[red shoes]``), ``objective_scores``
(each goal's purchase reward, 0 until bought), ``violation``,
``violation_message``, ``refused``; after a purchase ``purchase_reward`` and
``goal_rewards``; in browser mode ``url`` and, when asked for, ``html`` and
``screenshot`` (PNG bytes).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym

from composers.records import Task
from composers.sources.shop.records import Goal
from envkit.envs.episodes import ProcessLocal, choose_task, read_turn, render_turn
from envkit.envs.spaces import UnicodeText
from envkit.protocol.parser import Violation, ViolationKind
from envkit.protocol.prompts import PromptSection, shop_prompt
from envkit.protocol.tags import SHOP_TAGS, TagSet
from envkit.shop.backends import BrowserSettings, BrowserShop, ShopBackend, ShopView, TextShop
from envkit.shop.browser import BrowserFailure  # stdlib-only at import: playwright loads on first launch
from envkit.shop.pages import Search, parse_shop_action
from envkit.shop.shop import Shop

__all__ = ["SHOP_MODES", "WebShopEnv"]

SHOP_MODES = ("text", "browser")
MAX_TURNS_PER_GOAL = 15  # WebShop's episode limit


class WebShopEnv(ProcessLocal, gym.Env[str, str]):
    """Shop goals in text or browser mode.

    Args:
        tasks: tasks whose objectives are shop goals of ``shop``.
        shop: the catalog, search and goals (:func:`~envkit.shop.shop.open_shop`).
        mode: ``"text"`` or ``"browser"``.
        max_turns: turns before ``truncated``; default 15 per goal (WebShop's limit).
        tags: the protocol's tag names (one action tag).
        browser: browser mode's settings (:class:`~envkit.shop.backends.BrowserSettings`: HTML and
            screenshots in ``info``, action timeout, a running server, the Chromium binary).

    """

    metadata = {"render_modes": ["ansi", "human"], "render_fps": 4}  # noqa: RUF012 (Gymnasium declares it per instance)

    def __init__(
        self,
        tasks: Sequence[Task],
        shop: Shop,
        mode: str = "text",
        max_turns: int | None = None,
        tags: TagSet = SHOP_TAGS,
        browser: BrowserSettings | None = None,
        max_action_chars: int = 4096,
        render_mode: str | None = None,
    ) -> None:
        if len(tasks) == 0:
            raise ValueError("the shop env needs at least one task")
        if mode not in SHOP_MODES:
            raise ValueError(f"unknown shop mode {mode!r} (use text or browser)")
        if len(tags.actions) != 1:
            raise ValueError(f"the shop env needs one action tag, got {tags.actions}")
        if max_turns is not None and max_turns < 1:
            raise ValueError(f"max_turns must be at least 1, got {max_turns}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"unknown render mode {render_mode!r} (use ansi or human)")
        self.tasks, self.shop, self.mode, self.tags = tasks, shop, mode, tags
        self.max_turns, self.max_action_chars, self.render_mode = max_turns, max_action_chars, render_mode
        self.observation_space = UnicodeText(262_144)
        self.action_space = UnicodeText(max_action_chars)
        self.backend: ShopBackend = (
            TextShop(shop) if mode == "text" else BrowserShop(shop, browser or BrowserSettings())
        )
        self.task: Task | None = None
        self._goals: list[Goal] = []
        self._done, self._last, self._turn, self._goal_index = True, "", 0, 0
        self.page_observation = ""
        self._rewards: list[float] = []

    def turn_budget(self, task: Task) -> int:
        """WebShop's 15 turns per goal."""
        return MAX_TURNS_PER_GOAL * task.n_objectives

    def prompt_section(self) -> PromptSection:
        """The purchases as a composite task's section (its opening is the first page)."""
        action = self.tags.actions[0]
        return PromptSection(
            goal=f"buy {len(self._goals)} product(s) in WebShop",
            actions=(
                f"act in the shop: <{action}> search[keywords] </{action}> or <{action}> click[label] </{action}>; "
                "buying a product moves on to the next purchase.",
            ),
            heading="Purchases",
            items=tuple(g.instruction_text for g in self._goals),
            opening=self.tags.information_block(self.page_observation),
        )

    def _scores(self) -> list[float]:
        return self._rewards + [0.0] * (len(self._goals) - len(self._rewards))

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        """Start an episode; ``options={"task_index": i}`` picks a task, else one is drawn."""
        super().reset(seed=seed)
        index = choose_task(self.np_random, len(self.tasks), options)
        self.task = self.tasks[index]
        self._goals = [self.shop.source.goal(o.id) for o in self.task.objectives]
        if not self._goals:
            raise ValueError(f"task {self.task.id} has no shop objectives")
        self._turn, self._goal_index, self._rewards, self._done = 0, 0, [], False
        self._limit = self.max_turns or self.turn_budget(self.task)
        view = self.backend.start(self._goals[0])  # a browser that cannot start is an error here
        prompt = shop_prompt([g.instruction_text for g in self._goals], self.tags)
        self.page_observation = view.page.observation()
        self._last = f"{prompt}\n{self.tags.information_block(self.page_observation)}"
        info = {"task_id": self.task.id, "task_index": index, "n_objectives": len(self._goals), "turn": 0}
        info.update(self._page_info(view), objective_scores=self._scores())
        return self._last, info

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """Apply one agent turn in the shop; a purchase scores its goal and moves to the next one."""
        if self._done or self.task is None:
            raise RuntimeError("the episode is over: call reset() before step()")
        self._turn += 1
        info: dict[str, Any] = {
            "task_id": self.task.id,
            "n_objectives": len(self._goals),
            "turn": self._turn,
            "goal_index": self._goal_index,
            "action": None,
            "action_content": None,
            "violation": None,
            "violation_message": None,
            "refused": None,
        }
        reward, terminated, truncated = 0.0, False, False
        parsed = read_turn(action, self.tags, self.max_action_chars)
        if isinstance(parsed, Violation):
            info["violation"], info["violation_message"] = parsed.kind.value, parsed.message
            text = f"Invalid turn: {parsed.message}. Please {self.tags.describe()}."
        else:
            shop_action = parse_shop_action(parsed.action.content)
            if isinstance(shop_action, str):
                info["violation"], info["violation_message"] = ViolationKind.INVALID_ACTION.value, shop_action
                text = f"Invalid action: {shop_action}."
            else:
                info["action"] = "search" if isinstance(shop_action, Search) else "click"
                info["shop_action"] = info["action_content"] = parsed.action.content
                try:
                    view = self.backend.act(shop_action)
                except BrowserFailure as failure:
                    info["browser_error"] = str(failure)
                    text, truncated = f"Browser failure: {failure}. The episode ends here.", True
                else:
                    info.update(self._page_info(view))
                    text = view.page.observation()
                    if view.refused is not None:
                        info["refused"] = view.refused
                        text = f"Invalid action: {view.refused}.\n{text}"
                    if view.page.kind == "done" and view.page.score is not None:
                        reward, terminated, text = self._purchased(view, info, text)
        truncated = truncated or (not terminated and self._turn >= self._limit)
        info["objective_scores"] = self._scores()
        self._done = terminated or truncated
        self._last = self.tags.information_block(text)
        if self.render_mode == "human":
            self.render()
        return self._last, reward, terminated, truncated, info

    def _purchased(self, view: ShopView, info: dict[str, Any], text: str) -> tuple[float, bool, str]:
        assert view.page.score is not None  # a "done" page always carries its score
        score = float(view.page.score)
        self._rewards.append(score)
        info["purchase_reward"], info["goal_rewards"] = score, list(self._rewards)
        self._goal_index += 1
        if self._goal_index == len(self._goals):
            return score / len(self._goals), True, text
        nxt = self.backend.start(self._goals[self._goal_index])
        info.update(self._page_info(nxt))
        text += f"\nPurchase {self._goal_index + 1} of {len(self._goals)}:\n{nxt.page.observation()}"
        return score / len(self._goals), False, text

    def _page_info(self, view: ShopView) -> dict[str, Any]:
        info: dict[str, Any] = {
            "goal_index": self._goal_index,
            "page": view.page.kind,
            "available_actions": view.page.available_actions(),
        }
        if view.url is not None:
            info["url"] = view.url
        if view.html is not None:
            info["html"] = view.html
        if view.screenshot is not None:
            info["screenshot"] = view.screenshot
        return info

    def render(self) -> str | None:
        """``ansi``: the latest message as text; ``human``: print it."""
        return render_turn(self.render_mode, self._turn, self._last)

    def close(self) -> None:
        """Stop the browser and the shop server (text mode holds nothing)."""
        self.backend.close()
        super().close()
