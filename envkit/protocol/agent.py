"""The scripted-agent interface: one turn of text per observation, handed the task at reset.

Scripted agents (each kind's oracle, the random probe) know the task they play, which
learned policies never do; :class:`~envkit.policy.base.AgentPolicy` puts any of them
behind the batched policy interface the runner drives.
"""

from __future__ import annotations

from typing import Any, Protocol

from composers.records import Task

__all__ = ["Agent"]


class Agent(Protocol):
    """A text agent: one turn of output per observation."""

    def reset(self, task: Task) -> None:
        """Start an episode of ``task``."""
        ...

    def act(self, observation: str, info: dict[str, Any]) -> str:
        """The agent's next turn, given the env's observation and info."""
        ...
