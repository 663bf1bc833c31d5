"""Scripted agents: a random/malformed probe here, and each kind's oracle re-exported from its kind.

All follow the :class:`~envkit.protocol.agent.Agent` interface (``reset(task)``,
``act(observation, info)``). Scripted agents are handed the task at reset, which
learned policies never are: an oracle needs its gold answers, the random agent only N.

- :class:`OracleAgent` (:mod:`envkit.kinds.qa`) searches each question's gold queries,
  keeps what it found in its state, then answers exactly.
- :class:`ShopOracleAgent` (:mod:`envkit.kinds.shop`) buys each goal's own product.
- :class:`RandomAgent` mixes valid searches and answers with every kind of malformed
  turn; it exists to show that no agent output crashes an env.

The oracle for a task of any kinds is :class:`envkit.kinds.oracle.TaskOracle`.
"""

from __future__ import annotations

import random
from typing import Any

from composers.records import Task
from envkit.kinds.qa import OracleAgent
from envkit.kinds.shop import ShopOracleAgent
from envkit.protocol.agent import Agent
from envkit.protocol.tags import QA_TAGS, TagSet

__all__ = ["Agent", "OracleAgent", "RandomAgent", "ShopOracleAgent"]


class RandomAgent:
    """Random valid and malformed turns (a robustness probe, not a baseline)."""

    def __init__(self, seed: int = 0, malformed_rate: float = 0.6, answer_rate: float = 0.1, tags: TagSet = QA_TAGS):
        self.rng = random.Random(seed)
        self.malformed_rate, self.answer_rate, self.tags = malformed_rate, answer_rate, tags
        self.n_objectives = 1

    def reset(self, task: Task) -> None:
        """Remember N, so random answers have the right count."""
        self.n_objectives = task.n_objectives

    def _words(self, observation: str, k: int) -> str:
        words = observation.split() or ["nothing"]
        return " ".join(self.rng.choice(words) for _ in range(k))

    def act(self, observation: str, info: dict[str, Any]) -> str:
        """A random valid or malformed turn."""
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
