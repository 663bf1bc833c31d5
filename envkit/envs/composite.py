"""Composite episodes: QA objectives and shop goals in one task ("answer two questions, buy one product").

:class:`CompositeEnv` holds a :class:`~envkit.envs.qa.MultiObjectiveQAEnv` for the
task's QA objectives and a :class:`~envkit.envs.shop.WebShopEnv` for its shop goals,
and routes each turn by its action tag: ``<search>``/``<answer>`` to the QA part,
``<action>`` to the shop. The sub-envs see only their own objectives and keep their
own rules (one answer turn ends the QA part; each purchase moves to the next goal).
The episode ends when every part is done. The reward is the mean over all N
objectives: the QA part's mean EM weighted by its share, plus each purchase's score / N.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import gymnasium as gym

from composers.records import Task
from envkit.envs.episodes import choose_task, read_turn, render_turn
from envkit.envs.qa import MultiObjectiveQAEnv
from envkit.envs.shop import MAX_TURNS_PER_GOAL, WebShopEnv
from envkit.envs.spaces import UnicodeText
from envkit.protocol.parser import Violation
from envkit.protocol.prompts import mixed_prompt
from envkit.protocol.tags import TagSet
from envkit.retrieval.base import Retriever
from envkit.shop.shop import Shop

__all__ = ["MIXED_TAGS", "CompositeEnv"]

MIXED_TAGS = TagSet(actions=("search", "answer", "action"))


class _Part(Sequence[Task]):
    """The tasks restricted to objectives of one kind (computed when read)."""

    def __init__(self, tasks: Sequence[Task], kind: str) -> None:
        self.tasks, self.kind = tasks, kind

    def __len__(self) -> int:
        return len(self.tasks)

    def __getitem__(self, index):  # type: ignore[no-untyped-def]
        task = self.tasks[index]
        objectives = tuple(o for o in task.objectives if (o.kind == "shop") == (self.kind == "shop"))
        return Task(task.id, objectives, task.strategy, task.split, task.seed, task.sources)


class CompositeEnv(gym.Env[str, str]):
    """Mixed QA + shop tasks.

    Args:
        tasks: tasks with QA and/or shop objectives (``compose(..., "mixed", counts=...)``).
        retriever: the QA part's retriever.
        shop: the shop of the tasks' shop goals.
        mode: the shop's ``"text"`` or ``"browser"`` mode.
        top_k: passages per QA search.
        max_turns: default ``4 * questions + 4 + 15 * purchases``.
        tags: state tag plus three action tags (QA search, QA answer, shop action).
        shop_kwargs: passed to :class:`WebShopEnv` (``html``, ``screenshot``, ``action_timeout``, ...).

    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(
        self,
        tasks: Sequence[Task],
        retriever: Retriever,
        shop: Shop,
        mode: str = "text",
        top_k: int = 3,
        max_turns: int | None = None,
        tags: TagSet = MIXED_TAGS,
        render_mode: str | None = None,
        **shop_kwargs: Any,
    ) -> None:
        if len(tasks) == 0:
            raise ValueError("the composite env needs at least one task")
        if len(tags.actions) != 3:
            raise ValueError(f"the composite env needs three action tags (search, answer, shop), got {tags.actions}")
        search, answer, shop_action = tags.actions
        self.tasks, self.tags, self.top_k, self.max_turns = tasks, tags, top_k, max_turns
        self.render_mode = render_mode
        qa_tags = TagSet(tags.state, (search, answer), tags.information)
        shop_tags = TagSet(tags.state, (shop_action,), tags.information)
        self.qa = MultiObjectiveQAEnv(_Part(tasks, "qa"), retriever, top_k=top_k, max_turns=10**9, tags=qa_tags)
        self.shop = WebShopEnv(_Part(tasks, "shop"), shop, mode=mode, max_turns=10**9, tags=shop_tags, **shop_kwargs)
        self._shop_action = shop_action
        self.observation_space = UnicodeText(262_144)
        self.action_space = UnicodeText(16_384)
        self.task: Task | None = None
        self._done, self._last, self._turn = True, "", 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        super().reset(seed=seed)
        index = choose_task(self.np_random, len(self.tasks), options)
        self.task = self.tasks[index]
        questions = [o for o in self.task.objectives if o.kind != "shop"]
        goals = [o for o in self.task.objectives if o.kind == "shop"]
        self._n, self._n_qa, self._n_shop = len(self.task.objectives), len(questions), len(goals)
        self._qa_done, self._shop_done = not questions, not goals
        self._turn, self._done = 0, False
        self._limit = self.max_turns or 4 * len(questions) + 4 + MAX_TURNS_PER_GOAL * len(goals)
        info = {"task_id": self.task.id, "task_index": index, "n_objectives": self._n, "turn": 0}
        self._last = mixed_prompt(questions, [o.question for o in goals], self.tags, self.top_k)
        if questions:
            self.qa.reset(options={"task_index": index})
        if goals:
            _, shop_info = self.shop.reset(options={"task_index": index})
            self._last += "\n" + self.tags.information_block(self.shop.page_observation)
            info.update(page=shop_info["page"], available_actions=shop_info["available_actions"], goal_index=0)
        return self._last, info

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        if self._done or self.task is None:
            raise RuntimeError("the episode is over: call reset() before step()")
        self._turn += 1
        parsed = read_turn(action, self.tags, self.action_space.max_length)
        reward = 0.0
        info: dict[str, Any]
        if isinstance(parsed, Violation):
            info = {"action": None, "violation": parsed.kind.value, "violation_message": parsed.message, "part": None}
            observation = self.tags.information_block(f"Invalid turn: {parsed.message}. Please {self.tags.describe()}.")
        elif parsed.action.name == self._shop_action:
            if self._shop_done:
                observation, info = self._refuse("every product is already bought")
            else:
                observation, r, terminated, truncated, info = self.shop.step(action)
                reward += r * self._n_shop / self._n
                self._shop_done = terminated or truncated
                info["part"] = "shop"
        elif self._qa_done:
            observation, info = self._refuse("the questions are already answered")
        else:
            observation, r, terminated, truncated, info = self.qa.step(action)
            reward += r * self._n_qa / self._n
            self._qa_done = terminated or truncated
            info["part"] = "qa"
        terminated = self._qa_done and self._shop_done
        truncated = not terminated and (self._turn >= self._limit or "browser_error" in info)
        self._done = terminated or truncated
        info.update(task_id=self.task.id, n_objectives=self._n, turn=self._turn)
        self._last = observation
        return observation, reward, terminated, truncated, info

    def _refuse(self, why: str) -> tuple[str, dict[str, Any]]:
        info = {"action": None, "violation": None, "violation_message": None, "refused": why, "part": None}
        return self.tags.information_block(f"Invalid action: {why}."), info

    def render(self) -> str | None:
        """``ansi``: the latest message as text."""
        return render_turn(self.render_mode, self._turn, self._last)

    def close(self) -> None:
        self.shop.close()
        super().close()
