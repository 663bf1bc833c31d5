"""Wrappers that add protocol behaviour to any envkit env (composition, not flags).

- :class:`ProtocolContext` turns the env's latest message into the context the
  protocol allows (``consolidated``, ``full``, ``window(k)``) and accounts its tokens.
- :class:`FormatPenalty` subtracts a penalty for every protocol violation.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from envkit.protocol.context import ContextBuilder, PastTurn, build_messages, make_context_builder, render_messages
from envkit.protocol.tokens import TokenCounter, count_word_pieces

__all__ = ["FormatPenalty", "ProtocolContext"]


class ProtocolContext(gym.Wrapper[str, str, str, str]):
    """Show the agent exactly the context its builder allows, and count its tokens.

    The observation becomes the rendered context (prompt + retained turns); ``info``
    gains ``messages`` (the same context as chat messages), ``context_tokens`` (size
    of the context the agent writes its next turn from), ``peak_context_tokens`` and
    ``context_tokens_per_turn`` (every context the agent generated from so far). Each
    message is counted once, so accounting is O(1) per step whatever the builder.
    """

    def __init__(
        self,
        env: gym.Env[str, str],
        builder: str | ContextBuilder = "consolidated",
        token_counter: TokenCounter = count_word_pieces,
    ) -> None:
        super().__init__(env)
        self.builder = make_context_builder(builder)
        self.token_counter = token_counter
        self._prompt, self._prompt_tokens = "", 0
        self._turns: list[PastTurn] = []
        self._turn_tokens: list[int] = []
        self._per_turn: list[int] = []

    def _context(self) -> tuple[str, dict[str, Any]]:
        messages = build_messages(self._prompt, self._turns, self.builder)
        tokens = self._prompt_tokens + sum(self._turn_tokens[i] for i in self.builder.retained(len(self._turns)))
        return render_messages(messages), {"messages": messages, "context_tokens": tokens}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        prompt, info = self.env.reset(seed=seed, options=options)
        self._prompt, self._prompt_tokens = prompt, self.token_counter(prompt)
        self._turns, self._turn_tokens = [], []
        observation, context = self._context()
        self._per_turn = [context["context_tokens"]]
        info.update(context, context_builder=self.builder.name, prompt_tokens=self._prompt_tokens)
        info.update(peak_context_tokens=self._prompt_tokens, context_tokens_per_turn=list(self._per_turn))
        return observation, info

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        message, reward, terminated, truncated, info = self.env.step(action)
        output = action if isinstance(action, str) else repr(action)
        self._turns.append(PastTurn(output, message))
        self._turn_tokens.append(self.token_counter(output) + self.token_counter(message))
        observation, context = self._context()
        if not (terminated or truncated):  # a context the agent will generate from
            self._per_turn.append(context["context_tokens"])
        info.update(context, context_builder=self.builder.name, prompt_tokens=self._prompt_tokens)
        info.update(peak_context_tokens=max(self._per_turn), context_tokens_per_turn=list(self._per_turn))
        return observation, reward, terminated, truncated, info


class FormatPenalty(gym.Wrapper[str, str, str, str]):
    """Subtract ``penalty`` from the reward of every turn that violates the protocol."""

    def __init__(self, env: gym.Env[str, str], penalty: float = 0.1) -> None:
        if penalty < 0:
            raise ValueError(f"the format penalty must be non-negative, got {penalty}")
        super().__init__(env)
        self.penalty = penalty

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        observation, reward, terminated, truncated, info = self.env.step(action)
        if info.get("violation") is not None:
            reward -= self.penalty
            info["format_penalty"] = self.penalty
        return observation, reward, terminated, truncated, info
