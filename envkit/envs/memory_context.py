"""``MemoryContext``: the protocol's context when the agent's own memory operations decide it.

For ``summary(k)`` and ``fold`` (:mod:`envkit.protocol.memory`) the retained turns are
not a range that follows the turn count: they follow the memory elements the agent
wrote. This wrapper takes those elements out of the text the env reads (the env and
its scoring see an ordinary turn), keeps each turn's elements, shows the turns the
builder retains and appends the builder's request (a summary is due, a branch was
ignored) to the env's message. It keeps every turn of the episode (the builder may show
any of them again), so accounting is O(turns) per step instead of
:class:`~envkit.envs.wrappers.ProtocolContext`'s O(1); ``info`` gains ``memory_notes``
(the elements of the turn just played).

:func:`with_context` picks this wrapper or ``ProtocolContext`` for a builder spec.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import gymnasium as gym

from envkit.envs.episodes import too_long_to_read
from envkit.envs.wrappers import ProtocolContext
from envkit.protocol.context import AnyContextBuilder, Message, make_context_builder, render_messages, turn_messages
from envkit.protocol.memory import MemoryBuilder, Notes, take_elements
from envkit.protocol.tokens import TokenCounter, count_word_pieces

__all__ = ["MemoryContext", "with_context"]


class MemoryContext(ProtocolContext):
    """Show the turns a memory builder retains, from the memory elements each turn wrote."""

    steered_by_memory = True

    def __init__(
        self,
        env: gym.Env[str, str],
        builder: str | MemoryBuilder,
        token_counter: TokenCounter = count_word_pieces,
        layout: str = "chat",
        kept: Callable[[str], str] | None = None,
    ) -> None:
        memory = make_context_builder(builder)
        if not isinstance(memory, MemoryBuilder):
            raise ValueError(f"context builder {memory.name!r} keeps a range of turns: use ProtocolContext")
        super().__init__(env, memory, token_counter, layout, kept)
        self.memory = memory
        self._notes: list[Notes] = []
        self._pending: Notes = {}
        self._turns: list[list[Message]] = []
        self._tokens: list[int] = []

    def _start(self) -> None:
        self._notes, self._pending, self._turns, self._tokens = [], {}, [], []

    def _task_prompt(self, prompt: str) -> str:
        """The env's prompt, then how this memory operation works."""
        return f"{prompt}\n{self.memory.instructions}"

    def _env_turn(self, action: str) -> str:
        """The turn without its memory elements, which are kept for the builder."""
        if too_long_to_read(self.env, action):  # the env refuses it as too long; no element is read
            self._pending = {}
            return action
        text, self._pending = take_elements(action, self.memory.elements)
        return text

    def _record(self, output: str, message: str) -> str:
        self._notes.append(self._pending)
        self._pending = {}
        request = self.memory.request(self._notes)
        if request:
            message = f"{message}\n{request}" if message else request
        self._turns.append(turn_messages(output, message, self.layout))
        self._tokens.append(self.token_counter(output) + self.token_counter(message))
        return message

    def _context(self) -> tuple[str, dict[str, Any]]:
        kept = self.memory.retained_turns(self._notes)
        messages = [self._prompt, *(message for index in kept for message in self._turns[index])]
        tokens = self._prompt_tokens + sum(self._tokens[index] for index in kept)
        return render_messages(messages), {"messages": messages, "context_tokens": tokens}

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """Play the turn without its memory elements; the next context follows what they did."""
        observation, reward, terminated, truncated, info = super().step(action)
        info["memory_notes"] = dict(self._notes[-1]) if self._notes else {}
        return observation, reward, terminated, truncated, info


def with_context(
    env: gym.Env[str, str],
    builder: str | AnyContextBuilder,
    token_counter: TokenCounter = count_word_pieces,
    layout: str = "chat",
    kept: Callable[[str], str] | None = None,
) -> gym.Env[str, str]:
    """``env`` behind the wrapper its builder needs: MemoryContext for memory operations, else ProtocolContext."""
    chosen = make_context_builder(builder)
    if isinstance(chosen, MemoryBuilder):
        return MemoryContext(env, chosen, token_counter, layout, kept)
    return ProtocolContext(env, cast(Any, chosen), token_counter, layout, kept)
