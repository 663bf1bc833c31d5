"""Memory operations: context builders that the agent's own turns steer.

MEM1 keeps one rolling internal state and drops every older turn (``consolidated``). Its
successors manage memory with other operations, each in a trainer fork of its own; here
they are context builders like the others, so every env, policy, eval and the exact
prefix-tree training play them unchanged (a turn's context is stored as the model saw it):

- ``summary(k)`` (ReSum, MemAgent): once ``k`` turns have passed since the last summary,
  the env asks for one; from the turn that writes ``<summary>...</summary>``, the context
  is the prompt, that turn (its summary) and the turns since.
- ``fold`` (Context-Folding): ``<branch>goal</branch>`` opens a sub-task and
  ``<return>result</return>`` closes it; the branch's turns then vanish from later
  contexts and only the turn that returned stays. A branch opened while one is open, or
  a return with none open, changes nothing (the agent is told).

A memory element rides along with an ordinary turn (state and action). The env never
reads it (:func:`take_elements` takes it out of the text the env parses), while the
context shows the turn as the agent wrote it, so the summary or the return is what later
turns read. A builder is a pure rule over the memory elements of the turns so far
(:class:`MemoryBuilder`); the episode's record lives in the wrapper that applies it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from envkit.protocol.elements import first_element, without_elements

__all__ = ["Fold", "MemoryBuilder", "Notes", "Summary", "take_elements"]

Notes = Mapping[str, str]
"""The memory elements one turn wrote: element name -> its content (``{"summary": "..."}``)."""


def take_elements(text: str, names: Sequence[str]) -> tuple[str, dict[str, str]]:
    """``text`` without its ``names`` elements (what the env reads), and the first content of each.

    Only well-formed elements are taken; a stray or unclosed tag stays in the text, where
    the env's parser reports it to the agent.
    """
    found: dict[str, str] = {}
    for name in names:
        first = first_element(text, name)
        if first is not None:
            found[name] = first[2].strip()
            text = without_elements(text, name)
    return text, found


@runtime_checkable
class MemoryBuilder(Protocol):
    """A context builder steered by memory elements the agent writes (``summary(k)``, ``fold``)."""

    @property
    def name(self) -> str:
        """The builder's spec, as reports and trajectories name it."""
        ...

    @property
    def elements(self) -> tuple[str, ...]:
        """The memory elements it reads (taken out of the text the env parses)."""
        ...

    @property
    def instructions(self) -> str:
        """How the operation works, for the task prompt."""
        ...

    def retained_turns(self, notes: Sequence[Notes]) -> list[int]:
        """Indices of the past turns (oldest first) the next context shows, from each turn's memory elements."""
        ...

    def request(self, notes: Sequence[Notes]) -> str:
        """What the env tells the agent after these turns about its memory ("" for nothing)."""
        ...

    def demonstrate(self, notes: Sequence[Notes], state: str) -> dict[str, str]:
        """The memory elements a perfect agent holding ``state`` writes in its next turn (the scripted oracle's)."""
        ...


@dataclass(frozen=True, slots=True)
class Summary:
    """Every ``k`` turns, a summary replaces the turns before it."""

    k: int
    tag: str = "summary"

    def __post_init__(self) -> None:
        if self.k < 1:
            raise ValueError(f"summary interval must be at least 1, got {self.k}")

    @property
    def name(self) -> str:
        """``summary(k)``, the spec that builds this builder again."""
        return f"summary({self.k})"

    @property
    def elements(self) -> tuple[str, ...]:
        """The summary element."""
        return (self.tag,)

    @property
    def instructions(self) -> str:
        """When summaries are asked for and what they replace."""
        return (
            f"Memory: every {self.k} turn(s) you will be asked for a summary. Write it as <{self.tag}> ... "
            f"</{self.tag}> in your next turn, before your action; the turns before that turn are then dropped."
        )

    def _latest(self, notes: Sequence[Notes]) -> int | None:
        return next((i for i in range(len(notes) - 1, -1, -1) if self.tag in notes[i]), None)

    def retained_turns(self, notes: Sequence[Notes]) -> list[int]:
        """The turn that wrote the latest summary and every turn since (all turns before any summary)."""
        latest = self._latest(notes)
        return list(range(latest or 0, len(notes)))

    def request(self, notes: Sequence[Notes]) -> str:
        """Ask for a summary once ``k`` turns have passed since the last one (or since the start)."""
        latest = self._latest(notes)
        since = len(notes) - (latest + 1 if latest is not None else 0)
        if since < self.k:
            return ""
        return (
            f"[MEMORY] Older turns are about to be dropped: in your next turn, before your action, write "
            f"<{self.tag}> ... </{self.tag}> with everything you still need. From that turn on you see only the "
            f"task, that turn and the turns after it."
        )

    def demonstrate(self, notes: Sequence[Notes], state: str) -> dict[str, str]:
        """The state as the summary, when one was asked for."""
        return {self.tag: state} if self.request(notes) else {}


@dataclass(frozen=True, slots=True)
class Fold:
    """Sub-tasks in branches: a closed branch's turns vanish, and the turn that returned from it stays."""

    open_tag: str = "branch"
    close_tag: str = "return"

    @property
    def name(self) -> str:
        """``fold``."""
        return "fold"

    @property
    def elements(self) -> tuple[str, ...]:
        """The branch and return elements."""
        return (self.open_tag, self.close_tag)

    @property
    def instructions(self) -> str:
        """How to open and close a branch, and what folding drops."""
        o, c = self.open_tag, self.close_tag
        return (
            f"Memory: you may work on a sub-task in a branch. Open it with <{o}> goal </{o}> and close it with "
            f"<{c}> result </{c}>, each written in a turn before its action. Once a branch is closed, its turns "
            f"are dropped from your context; the turn that returned stays."
        )

    def _spans(self, notes: Sequence[Notes]) -> tuple[list[range], int | None, list[str]]:
        """Closed branches (the turns that vanish), the open branch's first turn, and what was ignored."""
        closed: list[range] = []
        opened: int | None = None
        ignored: list[str] = []
        for index, turn in enumerate(notes):
            if self.close_tag in turn:
                if opened is None:
                    ignored.append(f"turn {index + 1}: <{self.close_tag}> with no branch open")
                else:
                    closed.append(range(opened, index))
                    opened = None
            if self.open_tag in turn:
                if opened is not None:
                    ignored.append(f"turn {index + 1}: <{self.open_tag}> inside the branch opened at turn {opened + 1}")
                else:
                    opened = index + 1 if self.close_tag in turn else index  # a turn that returned stays
        return closed, opened, ignored

    def retained_turns(self, notes: Sequence[Notes]) -> list[int]:
        """Every turn but those of closed branches."""
        closed, _, _ = self._spans(notes)
        gone = {index for span in closed for index in span}
        return [index for index in range(len(notes)) if index not in gone]

    def request(self, notes: Sequence[Notes]) -> str:
        """Say when the latest turn's branch or return changed nothing."""
        _, _, ignored = self._spans(notes)
        latest = f"turn {len(notes)}:"
        problems = [problem for problem in ignored if problem.startswith(latest)]
        return f"[MEMORY] Ignored: {'; '.join(problems)}." if problems else ""

    def demonstrate(self, notes: Sequence[Notes], state: str) -> dict[str, str]:
        """Two-turn branches: open one for the next step, then return the state from it."""
        _, opened, _ = self._spans(notes)
        return {self.close_tag: state} if opened is not None else {self.open_tag: "the next step"}
