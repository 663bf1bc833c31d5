"""Context builders: which past turns an agent sees when it writes its next turn.

A context is the task prompt followed by some of the past turns, each turn being the
agent's raw output and the environment's observation. Builders differ only in which
turns they retain, so each one is a rule ``retained(n_turns) -> range``:

- ``consolidated`` (MEM1): only the latest turn. The agent must carry everything it
  still needs in its internal state, so the context stays bounded.
- ``full``: every turn (the baseline MEM1 beats; grows linearly).
- ``window(k)``: the last ``k`` turns.
- ``summary(k)`` and ``fold``: memory operations the agent's own turns steer (a summary
  replaces older turns; a closed branch's turns vanish), :mod:`envkit.protocol.memory`.

The same rule tells the trainer which segments each turn attended to at generation
time, so rollout and training see identical contexts.

A *layout* says how a retained turn becomes chat messages. ``chat`` (envkit's default):
the agent's output is an assistant message and the env's observation a user message.
``continued`` (MEM1's released code): the observation is written into the agent's own
turn, so the context ends in an open assistant turn (one assistant message per piece)
that the model continues; policies encode each piece on its own, as MEM1's rollout does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from composers.spec_table import SpecTable
from envkit.protocol.memory import Fold, MemoryBuilder, Summary

__all__ = [
    "CONTEXT_BUILDERS",
    "LAYOUTS",
    "AnyContextBuilder",
    "Consolidated",
    "ContextBuilder",
    "Full",
    "Message",
    "PastTurn",
    "Window",
    "build_messages",
    "make_context_builder",
    "open_turn",
    "render_messages",
    "turn_messages",
]

Message = dict[str, str]
"""A chat message, ``{"role": "user" | "assistant", "content": str}``."""


@dataclass(frozen=True, slots=True)
class PastTurn:
    """One finished turn: what the agent wrote and what the env answered."""

    output: str
    observation: str


@runtime_checkable
class ContextBuilder(Protocol):
    """Decides which past turns are retained in the next context."""

    @property
    def name(self) -> str:
        """The builder's spec (``consolidated``, ``window(2)``), as reports and trajectories name it."""
        ...

    def retained(self, n_turns: int) -> range:
        """Indices of the past turns (0-based, oldest first) kept in the context."""
        ...


@dataclass(frozen=True, slots=True)
class Consolidated:
    """MEM1's rule: prompt + latest internal state and action + latest observation."""

    name: str = "consolidated"

    def retained(self, n_turns: int) -> range:
        """Only the latest turn."""
        return range(max(0, n_turns - 1), n_turns)


@dataclass(frozen=True, slots=True)
class Full:
    """Every turn appended: the full-context baseline."""

    name: str = "full"

    def retained(self, n_turns: int) -> range:
        """Every turn."""
        return range(n_turns)


@dataclass(frozen=True, slots=True)
class Window:
    """The last ``k`` turns."""

    k: int

    def __post_init__(self) -> None:
        if self.k < 1:
            raise ValueError(f"window size must be at least 1, got {self.k}")

    @property
    def name(self) -> str:
        """``window(k)``, the spec that builds this builder again."""
        return f"window({self.k})"

    def retained(self, n_turns: int) -> range:
        """The last ``k`` turns."""
        return range(max(0, n_turns - self.k), n_turns)


AnyContextBuilder = ContextBuilder | MemoryBuilder
"""A builder that keeps a range of turns, or one the agent's memory elements steer."""

LAYOUTS = ("chat", "continued")


def turn_messages(output: str, observation: str, layout: str = "chat") -> list[Message]:
    """One past turn as messages: the agent's output, then the observation as the user's (``chat``) or its own."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown context layout {layout!r} (use {' or '.join(LAYOUTS)})")
    role = "user" if layout == "chat" else "assistant"
    return [{"role": "assistant", "content": output}, {"role": role, "content": observation}]


def build_messages(
    prompt: str, turns: Sequence[PastTurn], builder: ContextBuilder, layout: str = "chat"
) -> list[Message]:
    """The chat messages of the next context: the prompt, then the retained turns in ``layout``."""
    messages: list[Message] = [{"role": "user", "content": prompt}]
    for index in builder.retained(len(turns)):
        messages.extend(turn_messages(turns[index].output, turns[index].observation, layout))
    return messages


def open_turn(messages: Sequence[Message]) -> tuple[list[Message], list[str]]:
    """Split a context into its closed messages and the pieces of the assistant turn left open at its end.

    A context that ends in assistant messages (the ``continued`` layout) is a turn the
    model continues; each piece is encoded on its own. A ``chat`` context has no open turn.
    """
    end = len(messages)
    while end > 0 and messages[end - 1]["role"] == "assistant":
        end -= 1
    return list(messages[:end]), [m["content"] for m in messages[end:]]


def render_messages(messages: Sequence[Message]) -> str:
    """Plain-text rendering of a context: a blank line between messages, the pieces of an open turn run together.

    This is what text-in/text-out agents read as the observation; chat-template
    policies format ``messages`` themselves.
    """
    closed, pieces = open_turn(messages)
    text = "\n\n".join(m["content"] for m in closed)
    return f"{text}\n\n{''.join(pieces)}" if pieces else text


def _no_option(builder: type[Consolidated] | type[Full] | type[Fold]) -> Callable[[str, str], AnyContextBuilder]:
    def build(rest: str, spec: str) -> AnyContextBuilder:
        if rest:
            raise ValueError(f"context builder {spec!r} takes no option")
        return builder()

    return build


def _every(name: str, build: Callable[[int], AnyContextBuilder]) -> Callable[[str, str], AnyContextBuilder]:
    def parse(rest: str, spec: str) -> AnyContextBuilder:
        match = re.fullmatch(r"(\d+)\)", rest)
        if match is None:
            raise ValueError(f"bad context builder {spec!r}: use {name}(K) with K a positive integer")
        return build(int(match.group(1)))

    return parse


CONTEXT_BUILDERS: SpecTable[AnyContextBuilder] = SpecTable("context builder", ValueError, separator="(")
"""Context builders by spec; ``CONTEXT_BUILDERS.register(name, factory, usage)`` adds one."""
CONTEXT_BUILDERS.register("consolidated", _no_option(Consolidated), "'consolidated'")
CONTEXT_BUILDERS.register("full", _no_option(Full), "'full'")
CONTEXT_BUILDERS.register("window", _every("window", Window), "'window(K)'")
CONTEXT_BUILDERS.register("summary", _every("summary", Summary), "'summary(K)'")
CONTEXT_BUILDERS.register("fold", _no_option(Fold), "'fold'")


def make_context_builder(spec: str | AnyContextBuilder) -> AnyContextBuilder:
    """Build a builder from ``"consolidated"``, ``"full"``, ``"window(k)"`` (``window:k`` too), ``"summary(k)"``
    or ``"fold"``.
    """
    if isinstance(spec, ContextBuilder | MemoryBuilder):
        return spec
    return CONTEXT_BUILDERS.resolve(re.sub(r"\Awindow[:=](\d+)\Z", r"window(\1)", spec))
