"""The oracle every task has: each kind's own oracle, one kind after another.

:class:`TaskOracle` is what ``--policy oracle`` plays: handed a task at reset (as
scripted agents are), it builds the oracle of each kind the task holds and lets them
take turns in the registry's order, each finishing its kind's objectives before the
next starts. Each kind's oracle sees only the ``info`` of its own part's turns (and
the reset's), so a shop oracle that starts after the questions are answered still
sees its first page.
"""

from __future__ import annotations

import functools
from typing import Any

from composers.records import Task
from envkit.envs.composite import composite_tags, part_tags
from envkit.kinds.registry import action_tools, get_kind, kinds_of
from envkit.protocol.agent import Agent
from envkit.protocol.context import make_context_builder
from envkit.protocol.memory import MemoryBuilder, Notes, take_elements
from envkit.protocol.tags import TagSet
from envkit.protocol.tool_calls import ACTION_FORMAT_TOOL_CALL, as_tool_call

__all__ = ["CompositeOracle", "TaskOracle"]


class CompositeOracle:
    """Several kinds' oracles behind one agent, for a composite env with ``tags``."""

    def __init__(self, oracles: dict[str, Agent]) -> None:
        self.oracles = oracles
        self._infos: dict[str, dict[str, Any]] = {}

    def reset(self, task: Task) -> None:
        """Reset each kind's oracle on its own objectives of ``task``."""
        for name, oracle in self.oracles.items():
            oracle.reset(get_kind(name).objectives_of(task))
        self._infos = {}

    def act(self, observation: str, info: dict[str, Any]) -> str:
        """The turn of the first kind whose objectives are still open, from that kind's latest info."""
        if not self._infos:  # the reset's info opens every part
            self._infos = dict.fromkeys(self.oracles, info)
        elif info.get("part") in self._infos:
            self._infos[info["part"]] = info
        open_parts = info.get("open_parts") or list(self.oracles)
        name = next(n for n in open_parts if n in self.oracles)
        return self.oracles[name].act(observation, self._infos[name])


class TaskOracle:
    """The oracle each task needs, with each kind's default action tags (a composite's for mixed tasks).

    ``state_tag`` is the state tag the env's protocol reads (``think`` under ``mem1``); an
    env that reads tool calls says so in ``info["action_format"]`` and gets them. Under a
    memory operation (``info["context_builder"]``: ``summary(k)``, ``fold``) the oracle
    also writes the memory elements a perfect agent would, with its state as their
    content (``MemoryBuilder.demonstrate``), so what it needs survives whatever is dropped.
    """

    def __init__(self, state_tag: str = "IS") -> None:
        self.state_tag = state_tag
        self._agent: Agent | None = None
        self._tags = TagSet(state=state_tag)  # the task's action tags (a tool call is written from them)
        self._notes: list[Notes] = []  # the memory elements it wrote, turn by turn

    def reset(self, task: Task) -> None:
        """Build the oracle ``task`` needs (one kind's, or a composite of several) and reset it."""
        names = kinds_of([task])
        if len(names) == 1:
            kind = get_kind(names[0])
            self._tags = kind.tags(self.state_tag)
            self._agent = kind.oracle([task], self._tags)
        else:
            self._tags = composite_tags(names, self.state_tag)
            shares = part_tags(self._tags, names)
            oracles = {
                name: get_kind(name).oracle([get_kind(name).objectives_of(task)], share)
                for name, share in shares.items()
            }
            self._agent = CompositeOracle(oracles)
        self._agent.reset(task)
        self._notes = []

    def act(self, observation: str, info: dict[str, Any]) -> str:
        """The current oracle's next turn, as a tool call where the env reads tool calls (``tools`` protocol)."""
        assert self._agent is not None, "reset() first"
        turn = self._agent.act(observation, info)
        if info.get("action_format") == ACTION_FORMAT_TOOL_CALL:
            turn = as_tool_call(turn, self._tags, action_tools(self._tags.actions))
        memory = _memory_builder(str(info.get("context_builder", "")))
        if memory is None:
            return turn
        _, elements = take_elements(turn, (self.state_tag,))
        notes = memory.demonstrate(self._notes, elements.get(self.state_tag, ""))
        self._notes.append(notes)
        written = "".join(f"\n<{name}>{content}</{name}>" for name, content in notes.items())
        return turn.replace(f"</{self.state_tag}>", f"</{self.state_tag}>{written}", 1)


@functools.cache
def _memory_builder(spec: str) -> MemoryBuilder | None:
    """The memory operation a context builder spec names, if it is one."""
    try:
        builder = make_context_builder(spec)
    except ValueError:
        return None
    return builder if isinstance(builder, MemoryBuilder) else None
