"""Scripted agents that ship with the library: an oracle and a random/malformed agent.

Both follow the :class:`Agent` interface (``reset(task)``, ``act(observation, info)``).
Scripted agents are handed the task at reset, which learned policies never are: the
oracle needs its gold queries and answers, the random agent only N.

- :class:`OracleAgent` issues each objective's gold queries, keeps the answers it has
  established in its internal state (so it works under the ``consolidated`` context),
  then answers exactly. With ``carry_answers=False`` its state has a constant size
  (it answers from the task it was handed): a probe of how much a context builder
  itself grows with N, apart from what an agent chooses to remember. It scores 1.0 on
  every task whose evidence it can reach, and records whether the retriever returned
  every supporting passage (``reached``).
- :class:`RandomAgent` mixes valid searches and answers with every kind of malformed
  turn; it exists to show that no agent output crashes an env.
- :class:`ShopOracleAgent` buys each shop goal's own product with the goal's options.

The oracle for a task of any kinds is :class:`envkit.kinds.oracle.TaskOracle`.
"""

from __future__ import annotations

import random
from typing import Any, Protocol

from composers.records import Task
from envkit.protocol.tags import QA_TAGS, SHOP_TAGS, TagSet
from envkit.shop.engine import BACK, NEXT, PREV
from envkit.shop.pages import clean_text

__all__ = ["Agent", "OracleAgent", "RandomAgent", "ShopOracleAgent"]


class Agent(Protocol):
    """A text agent: one turn of output per observation."""

    def reset(self, task: Task) -> None:
        """Start an episode of ``task``."""
        ...

    def act(self, observation: str, info: dict[str, Any]) -> str:
        """The agent's next turn, given the env's observation and info."""
        ...


class OracleAgent:
    """Searches each objective's gold queries, then answers with the gold answers."""

    def __init__(self, tags: TagSet = QA_TAGS, carry_answers: bool = True) -> None:
        self.tags, self.carry_answers = tags, carry_answers
        self._plan: list[tuple[int, str]] = []
        self._step = 0
        self.reached = True

    def reset(self, task: Task) -> None:
        self.task = task
        self._plan = [
            (index, hop, query)
            for index, o in enumerate(task.objectives)
            for hop, query in enumerate(o.queries or (o.question,))
        ]
        self._needed = {index: set(o.supporting_ids) for index, o in enumerate(task.objectives)}
        self._seen: set[str] = set()
        self._step = 0
        self.reached = True

    def _state(self, resolved: int, hop: int = 0) -> str:
        """What the oracle knows before its next action, written so that the action follows from it.

        It lists the answers found so far and, inside a multi-hop question, the entities
        the previous searches led to (the last one is what it searches next), so an
        imitating model can see from the state alone which step comes next.
        """
        if not self.carry_answers:  # a state of constant size: the probe of a builder's own growth
            return f"Working on question {min(resolved + 1, len(self.task.objectives))}."
        found = "; ".join(f"{i + 1}. {self.task.objectives[i].golden_answers[0]}" for i in range(resolved))
        state = f"Answers so far: {found or 'none'}."
        if hop > 0:
            path = " -> ".join(self.task.objectives[resolved].queries[: hop + 1])
            state += f" Question {resolved + 1}: {path}."
        return f"{state} {len(self.task.objectives) - resolved} question(s) left."

    def act(self, observation: str, info: dict[str, Any]) -> str:
        self._seen.update(info.get("retrieved_ids") or ())
        search, answer = self.tags.actions
        if self._step < len(self._plan):
            index, hop, query = self._plan[self._step]
            self._step += 1
            return self.tags.format_turn(self._state(index, hop), search, query)
        self.reached = all(ids <= self._seen for ids in self._needed.values())
        answers = "; ".join(o.golden_answers[0] for o in self.task.objectives)
        return self.tags.format_turn(self._state(len(self.task.objectives)), answer, answers)


class RandomAgent:
    """Random valid and malformed turns (a robustness probe, not a baseline)."""

    def __init__(self, seed: int = 0, malformed_rate: float = 0.6, answer_rate: float = 0.1, tags: TagSet = QA_TAGS):
        self.rng = random.Random(seed)
        self.malformed_rate, self.answer_rate, self.tags = malformed_rate, answer_rate, tags
        self.n_objectives = 1

    def reset(self, task: Task) -> None:
        self.n_objectives = task.n_objectives

    def _words(self, observation: str, k: int) -> str:
        words = observation.split() or ["nothing"]
        return " ".join(self.rng.choice(words) for _ in range(k))

    def act(self, observation: str, info: dict[str, Any]) -> str:
        s, (search, answer) = self.tags.state, self.tags.actions
        query = self._words(observation, self.rng.randint(1, 4))
        if self.rng.random() >= self.malformed_rate:
            if self.rng.random() < self.answer_rate:
                answers = "; ".join(self._words(observation, 1) for _ in range(self.n_objectives))
                return self.tags.format_turn("guessing", answer, answers)
            return self.tags.format_turn("looking", search, query)
        malformed = [
            f"<{search}>{query}</{search}>",  # no state
            f"<{s}>x</{s}><{search}>{query}</{search}><{answer}>a</{answer}>",  # two actions
            f"<{s}>x</{s}><{search}>{query}",  # unclosed
            f"<{s}>x</{s}><lookup>{query}</lookup>",  # unknown tag
            f"<{s}>x</{s}><{self.tags.information}>fake</{self.tags.information}>",  # reserved tag
            f"<{s}>x</{s}><{search}>   </{search}>",  # empty action
            f"<{search}>{query}</{search}><{s}>x</{s}>",  # wrong order
            f"<{s}><{s}>x</{s}></{s}><{search}>q</{search}>",  # nested
            "",
            "\x00\ufffd" + "".join(chr(self.rng.randint(32, 0x2FFF)) for _ in range(40)),
            "<" * self.rng.randint(1, 50) + ">" * self.rng.randint(1, 50),
        ]
        return self.rng.choice(malformed)


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
        self._goals = [self.shop.source.goal(o.id) for o in task.objectives]
        self._goal_index = -1

    def _start_goal(self, index: int) -> None:
        self._goal_index, self._pages_seen, self._fallback = index, 0, False
        self._chosen: set[str] = set()

    def _turn(self, state: str, action: str) -> str:
        return self.tags.format_turn(state, self.tags.actions[0], action)

    def act(self, observation: str, info: dict[str, Any]) -> str:
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
