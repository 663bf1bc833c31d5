"""Wrappers that add protocol behaviour to any envkit env (composition, not flags).

- :class:`ProtocolContext` turns the env's latest message into the context the
  protocol allows (``consolidated``, ``full``, ``window(k)``) and accounts its tokens;
  :class:`~envkit.envs.memory_context.MemoryContext` does the same for the memory
  operations the agent's own elements steer (``summary(k)``, ``fold``).
- :class:`FormatPenalty` subtracts a penalty for every protocol violation.
- :class:`TurnsLeftHint` tells the agent, inside each observation, how many turns it
  has left, as MEM1's training rollout does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import gymnasium as gym

from envkit.protocol.context import (
    AnyContextBuilder,
    ContextBuilder,
    Message,
    make_context_builder,
    render_messages,
    turn_messages,
)
from envkit.protocol.memory import MemoryBuilder
from envkit.protocol.parser import safe_text
from envkit.protocol.tokens import TokenCounter, count_word_pieces

__all__ = ["FormatPenalty", "ProtocolContext", "TurnsLeftHint", "turns_left_hint"]


class ProtocolContext(gym.Wrapper[str, str, str, str]):
    """Show the agent exactly the context its builder allows, and count its tokens.

    The observation becomes the rendered context (prompt + retained turns). ``info``
    gains ``messages`` (the same context as chat messages), ``context_tokens`` (size of
    the context the agent writes its next turn from) and ``peak_context_tokens``; at
    the end of an episode also ``context_tokens_per_turn`` (every context the agent
    generated from). Each message is counted once and builders retain a contiguous
    range of turns, so accounting is O(1) per step whatever the builder.

    Whatever the agent writes, the wrapper stays safe and bounded: lone surrogates
    become U+FFFD before anything counts or echoes them; a turn longer than the env's
    action space is echoed cut, with a note; turns a builder no longer retains are
    dropped (memory follows the builder, not the episode); and a context longer than
    the observation space ends the episode (``truncated``, ``info["context_overflow"]``)
    with the context's latest part as the final observation, never one outside the space.

    ``layout`` is how a retained turn becomes messages (``chat``, or MEM1's ``continued``:
    the observation inside the agent's open turn); ``kept`` maps the agent's output to
    the part the context shows again (MEM1 keeps its response from ``<think>`` on).
    """

    steered_by_memory = False  # MemoryContext: the agent's memory elements choose the retained turns

    def __init__(
        self,
        env: gym.Env[str, str],
        builder: str | AnyContextBuilder = "consolidated",
        token_counter: TokenCounter = count_word_pieces,
        layout: str = "chat",
        kept: Callable[[str], str] | None = None,
    ) -> None:
        super().__init__(env)
        turn_messages("", "", layout)  # an unknown layout fails here, in one line
        self.builder = make_context_builder(builder)
        if isinstance(self.builder, MemoryBuilder) and not self.steered_by_memory:
            raise ValueError(
                f"context builder {self.builder.name!r} follows the agent's memory elements: "
                "wrap with envkit.envs.memory_context.MemoryContext (gym.make does)"
            )
        self.token_counter = token_counter
        self.layout, self.kept = layout, kept
        self._prompt: Message = {"role": "user", "content": ""}
        self._first = 0  # the oldest turn still held (older ones no builder range reaches again)
        self._turn_messages: list[Message] = []  # assistant, user, ... of turns first, first + 1, ...
        self._cumulative: list[int] = [0]  # tokens of turns [0, k) for k = first, first + 1, ..., turns
        self._prompt_tokens = 0
        self._per_turn: list[int] = []
        self._peak = 0

    def _limit(self, space: gym.Space[Any]) -> int | None:
        return getattr(space, "max_length", None)

    def _context(self) -> tuple[str, dict[str, Any]]:
        turns = self._first + len(self._cumulative) - 1
        kept = cast(ContextBuilder, self.builder).retained(turns)
        if kept.step != 1:
            raise ValueError(f"context builder {self.builder.name} must retain a contiguous range of turns")
        if kept.stop > kept.start and kept.start < self._first:
            raise ValueError(f"context builder {self.builder.name} returned to turn {kept.start}, already dropped")
        start, stop = max(kept.start, self._first), max(kept.stop, self._first)
        offset = self._first
        messages = [self._prompt, *self._turn_messages[2 * (start - offset) : 2 * (stop - offset)]]
        tokens = self._prompt_tokens + self._cumulative[stop - offset] - self._cumulative[start - offset]
        self._drop_before(start)
        return render_messages(messages), {"messages": messages, "context_tokens": tokens}

    def _drop_before(self, turn: int) -> None:
        """Forget turns before ``turn``: builders retain ranges that only move forward."""
        gone = turn - self._first
        if gone > 0:
            del self._turn_messages[: 2 * gone]
            del self._cumulative[:gone]
            self._first = turn

    def _task_prompt(self, prompt: str) -> str:
        """The prompt the context starts with (the env's)."""
        return prompt

    def _start(self) -> None:
        """Forget the last episode's turns."""
        self._first, self._turn_messages, self._cumulative = 0, [], [0]

    def _env_turn(self, action: str) -> str:
        """The text the env reads for the agent's turn (all of it here)."""
        return action

    def _record(self, output: str, message: str) -> str:
        """Hold a finished turn (what the context shows of the agent's output, and the env's message); return it."""
        self._turn_messages.extend(turn_messages(output, message, self.layout))
        self._cumulative.append(self._cumulative[-1] + self.token_counter(output) + self.token_counter(message))
        return message

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        """Start an episode; the observation is the prompt as the builder shows it."""
        prompt, info = self.env.reset(seed=seed, options=options)
        self._prompt = {"role": "user", "content": safe_text(self._task_prompt(prompt))}
        self._start()
        self._prompt_tokens = self.token_counter(self._prompt["content"])
        observation, context = self._context()
        self._per_turn = [context["context_tokens"]]
        self._peak = context["context_tokens"]
        info.update(context, context_builder=self.builder.name, prompt_tokens=self._prompt_tokens)
        info["peak_context_tokens"] = self._peak
        return observation, info

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """Step the env, then rebuild the context the agent sees next and account its tokens."""
        message, reward, terminated, truncated, info = self.env.step(
            self._env_turn(action) if isinstance(action, str) else action
        )
        output = safe_text(action if isinstance(action, str) else repr(action))
        if self.kept is not None:
            output = self.kept(output)
        longest = self._limit(self.action_space)
        if longest is not None and len(output) > longest:  # echoed cut: the env said why in its message
            output = f"{output[:longest]} [... {len(output) - longest} more characters not shown]"
        self._record(output, safe_text(message))
        observation, context = self._context()
        widest = self._limit(self.observation_space)
        if widest is not None and len(observation) > widest:
            info["context_overflow"] = True
            observation = observation[-widest:]
            truncated = truncated or not terminated
        if not (terminated or truncated):  # a context the agent will generate from
            self._per_turn.append(context["context_tokens"])
            self._peak = max(self._peak, context["context_tokens"])
        else:
            info["context_tokens_per_turn"] = list(self._per_turn)
        info.update(context, context_builder=self.builder.name, prompt_tokens=self._prompt_tokens)
        info["peak_context_tokens"] = self._peak
        return observation, float(reward), terminated, truncated, info


class FormatPenalty(gym.Wrapper[str, str, str, str]):
    """Subtract ``penalty`` from the reward of every turn that violates the protocol."""

    def __init__(self, env: gym.Env[str, str], penalty: float = 0.1) -> None:
        if penalty < 0:
            raise ValueError(f"the format penalty must be non-negative, got {penalty}")
        super().__init__(env)
        self.penalty = penalty

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """Step the env; subtract the penalty when the turn broke the protocol."""
        observation, raw_reward, terminated, truncated, info = self.env.step(action)
        reward = float(raw_reward)
        if info.get("violation") is not None:
            reward -= self.penalty
            info["format_penalty"] = self.penalty
        return observation, reward, terminated, truncated, info


def turns_left_hint(turns_left: int) -> str:
    """MEM1's hint (its training rollout, ``generation_think.py``): how many turns remain; none after the last."""
    if turns_left > 1:
        return f"[HINT]You have {turns_left} turns left.[/HINT]"
    if turns_left == 1:
        return "[HINT]You have 1 turn left. You must answer the question in the next turn.[/HINT]"
    return ""


class TurnsLeftHint(gym.Wrapper[str, str, str, str]):
    """Start each observation's information block with ``[HINT]You have K turns left.[/HINT]``.

    The hint goes inside the env's ``<information>`` element, then a blank line, then
    what the env said; the wrapped env tells the turns left (``turns_left``).
    """

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """Step the env, then put the hint at the head of its observation (not after the episode ends)."""
        observation, reward, terminated, truncated, info = self.env.step(action)
        hint = "" if terminated or truncated else turns_left_hint(int(self.env.get_wrapper_attr("turns_left")))
        opening = f"<{self.env.get_wrapper_attr('tags').information}>"
        if hint and observation.startswith(opening):
            observation = f"{opening}{hint}\n\n{observation[len(opening) :]}"
        return observation, float(reward), terminated, truncated, info


def with_protocol(
    env: gym.Env[str, str],
    context: str | AnyContextBuilder = "consolidated",
    format_penalty: float = 0.0,
    token_counter: TokenCounter = count_word_pieces,
    turns_left_hint: bool = False,
) -> gym.Env[str, str]:
    """Deprecated: the default protocol preset's wrappers (``resolve_protocol("envkit").wrap``), as before presets."""
    from envkit.deprecations import warn_moved
    from envkit.envs.protocols import DEFAULT_PROTOCOL, resolve_protocol

    warn_moved("envkit.envs.wrappers.with_protocol", "envkit.envs.protocols.resolve_protocol(name).wrap")
    return resolve_protocol(DEFAULT_PROTOCOL).wrap(env, context, format_penalty, token_counter, turns_left_hint)
