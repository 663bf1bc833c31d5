"""What an objective kind is: the one place that knows a domain.

An objective kind (questions to answer, products to buy, problems to solve) is
everything the toolkit needs to play objectives of one ``Objective.kind``:

- the **action tags** its turns use (the state tag is shared by every kind), and the
  same actions as **tools** (:class:`~envkit.protocol.tool_calls.ToolSpec`) for models
  that call functions (the ``tools`` protocol);
- the **resource** its objectives name through ``Objective.source`` (a retriever
  over the questions' corpus, a shop, a problem generator), opened once per env;
- its **env**: a Gymnasium env over tasks of that kind, which also serves as one
  part of a :class:`~envkit.envs.composite.CompositeEnv` (it follows
  :class:`ObjectiveEnv`: a prompt section and a turn budget for the current task);
- its **oracle**: a scripted agent that achieves every objective (the reference that
  tests, suites and supervised warm-up rely on); given the tasks, it opens what it needs.

A kind registers in :mod:`envkit.kinds.registry`; nothing else in the toolkit (the
composite env, the task-file env, the runner, eval, the trainer) tests kind names.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, ClassVar, Protocol, runtime_checkable

import gymnasium as gym

from composers.records import Task
from envkit.protocol.agent import Agent
from envkit.protocol.prompts import PromptSection
from envkit.protocol.tags import TagSet
from envkit.protocol.tool_calls import ToolSpec

__all__ = ["KindError", "ObjectiveEnv", "ObjectiveKind", "PromptSection"]


class KindError(ValueError):
    """An unknown objective kind, or options a kind does not take."""


@runtime_checkable
class ObjectiveEnv(Protocol):
    """What every envkit env exposes besides Gymnasium's API (runner, eval and composite read only this).

    ``info`` of every ``step`` holds ``objective_scores`` (one score in [0, 1] per
    objective of the task, in objective order, 0 until achieved) and
    ``action_content`` (the text inside the action tag, or ``None``).
    """

    tasks: Sequence[Task]
    task: Task | None
    tags: TagSet

    def prompt_section(self) -> PromptSection:
        """The current task's objectives as a section of a composite prompt (after ``reset``)."""
        ...

    def turn_budget(self, task: Task) -> int:
        """The default number of turns ``task`` may take."""
        ...


class ObjectiveKind(ABC):
    """One domain of objectives, as a plug-in (see the module docstring).

    Subclasses set ``name`` (the ``Objective.kind`` they play), ``actions`` (default
    action tags), ``tools`` (each action as a function, named as its tag; a kind without
    them cannot be played under the ``tools`` protocol), ``resource_options`` and
    ``env_options`` (the keyword options of
    :meth:`open_resource` and :meth:`make_env`, so a composite env can route each
    option to the kind that takes it).
    """

    name: ClassVar[str]
    actions: ClassVar[tuple[str, ...]]
    tools: ClassVar[tuple[ToolSpec, ...]] = ()
    updatable: ClassVar[bool] = False  # its answers can be renamed mid-episode: its env announces and scores updates
    resource_options: ClassVar[frozenset[str]] = frozenset()
    env_options: ClassVar[frozenset[str]] = frozenset()

    def tags(self, state: str = "IS", information: str = "information") -> TagSet:
        """The kind's tag set with a given state and information tag."""
        return TagSet(state, self.actions, information)

    def objectives_of(self, task: Task) -> Task:
        """``task`` restricted to this kind's objectives (a composite part's view of it)."""
        return replace(task, objectives=tuple(o for o in task.objectives if o.kind == self.name))

    @abstractmethod
    def open_resource(self, tasks: Sequence[Task], **options: Any) -> Any:
        """What this kind's objectives in ``tasks`` need to be played, from what their ``source`` names."""

    @abstractmethod
    def make_env(self, tasks: Sequence[Task], resource: Any, tags: TagSet, **options: Any) -> gym.Env[str, str]:
        """The kind's env over ``tasks`` (an :class:`ObjectiveEnv`); ``max_turns`` is always accepted."""

    @abstractmethod
    def oracle(self, tasks: Sequence[Task], tags: TagSet) -> Agent:
        """A scripted agent that achieves every objective of this kind in ``tasks`` (opening what it needs)."""

    def split_options(self, options: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """``options`` split into (resource options, env options) of this kind; the rest are ignored."""
        resource = {k: v for k, v in options.items() if k in self.resource_options}
        env = {k: v for k, v in options.items() if k in self.env_options}
        return resource, env
