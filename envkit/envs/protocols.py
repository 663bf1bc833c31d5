"""Protocol presets: how an env reads an agent's turns and what context it shows, chosen by name.

``gym.make(..., protocol="mem1")``, ``--protocol mem1`` on the CLI and ``protocol: mem1``
in a training config pick one:

- ``envkit`` (default): ``<IS>`` state, exactly one state and one action element per turn
  (anything else is a violation the agent is told about), envkit's prompts, observations
  as user messages; MEM1's turns-left hint when ``turns_left_hint=True``.
- ``mem1``: MEM1's released code, so a MEM1-trained checkpoint plays unchanged: ``<think>``
  state, MEM1's prompt, the first ``<search>``/``<answer>`` element wins, a turn without
  one ends the episode with reward 0, results inside the assistant's own turn with the
  turns-left hint, the last response from ``<think>`` on kept, 6 turns, summed EM over
  ``;``-split answers (:mod:`envkit.protocol.mem1`, :class:`~envkit.envs.mem1.Mem1Turns`).
  QA tasks only, as in MEM1's QA code.
- ``tools``: for tool-calling models: ``<IS>`` state, then the action as one
  ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>`` of the tools each kind
  declares (``search``/``answer``, the shop's ``action``, ``solve``); the prompt lists
  them in the ``<tools>`` block their chat templates use (:mod:`envkit.protocol.tool_calls`,
  :class:`~envkit.envs.tool_turns.ToolCallTurns`). Every context builder applies, so
  consolidated training works for them too. Every kind, and mixes of kinds.

Each preset sets the defaults of the env options it needs (``max_turns``, ``reward``...);
an option given explicitly wins. ``PROTOCOLS.register(name, factory)`` adds one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym

from composers.spec_table import SpecTable
from envkit.envs.mem1 import Mem1Turns
from envkit.envs.memory_context import with_context
from envkit.envs.tool_turns import ToolCallTurns
from envkit.envs.wrappers import FormatPenalty, TurnsLeftHint
from envkit.protocol.context import AnyContextBuilder
from envkit.protocol.mem1 import mem1_kept, mem1_response
from envkit.protocol.tokens import TokenCounter

__all__ = ["DEFAULT_PROTOCOL", "PROTOCOLS", "ProtocolPreset", "protocol_names", "resolve_protocol"]

DEFAULT_PROTOCOL = "envkit"

TurnReader = Callable[[gym.Env[str, str], bool], gym.Env[str, str]]
"""``reader(env, turns_left_hint)``: the wrapper that reads turns and writes observations the preset's way."""


def _envkit_turns(env: gym.Env[str, str], turns_left_hint: bool) -> gym.Env[str, str]:
    return TurnsLeftHint(env) if turns_left_hint else env


def _mem1_turns(env: gym.Env[str, str], turns_left_hint: bool) -> gym.Env[str, str]:
    return Mem1Turns(env)  # MEM1 always hints the turns left


def _tool_turns(env: gym.Env[str, str], turns_left_hint: bool) -> gym.Env[str, str]:
    env = ToolCallTurns(env)
    return TurnsLeftHint(env) if turns_left_hint else env


def _kept_by_mem1(output: str) -> str:
    return mem1_kept(mem1_response(output))


@dataclass(frozen=True, slots=True)
class ProtocolPreset:
    """One protocol: its state tag, how it reads turns and shows context, the kinds it plays and its env defaults.

    Attributes:
        name: the preset's name (``envkit``, ``mem1``).
        state_tag: the internal-state tag its agents write.
        reader: wraps the env to read turns and write observations the preset's way.
        layout: how :class:`~envkit.envs.wrappers.ProtocolContext` lays out retained turns.
        kept: what the context keeps of each agent output (``None``: all of it).
        kinds: the objective kinds it can play (``None``: every kind).
        env_defaults: env options it sets unless given (MEM1: 6 turns, summed reward).

    """

    name: str
    state_tag: str
    reader: TurnReader = _envkit_turns
    layout: str = "chat"
    kept: Callable[[str], str] | None = None
    kinds: frozenset[str] | None = None
    env_defaults: Mapping[str, Any] = field(default_factory=dict)

    def check_kinds(self, kinds: tuple[str, ...]) -> None:
        """One line when the tasks hold a kind this protocol cannot play."""
        other = [k for k in kinds if self.kinds is not None and k not in self.kinds]
        if other:
            allowed = ", ".join(sorted(self.kinds or ()))
            raise ValueError(
                f"protocol {self.name!r} plays {allowed} tasks only, not {', '.join(other)} "
                f"(use protocol {DEFAULT_PROTOCOL!r})"
            )

    def wrap(
        self,
        env: gym.Env[str, str],
        context: str | AnyContextBuilder,
        format_penalty: float,
        token_counter: TokenCounter,
        turns_left_hint: bool,
    ) -> gym.Env[str, str]:
        """The preset's turn reader, the format penalty (if any), then the context, outermost."""
        env = self.reader(env, turns_left_hint)
        if format_penalty:
            env = FormatPenalty(env, format_penalty)
        return with_context(env, context, token_counter, layout=self.layout, kept=self.kept)


PROTOCOLS: SpecTable[ProtocolPreset] = SpecTable("protocol", ValueError)
"""Protocol presets by name."""


def _preset(preset: ProtocolPreset) -> Callable[[str, str], ProtocolPreset]:
    def build(rest: str, spec: str) -> ProtocolPreset:
        if rest:
            raise ValueError(f"protocol {spec!r} takes no option")
        return preset

    return build


PROTOCOLS.register(DEFAULT_PROTOCOL, _preset(ProtocolPreset(DEFAULT_PROTOCOL, "IS")))
PROTOCOLS.register(
    "mem1",
    _preset(
        ProtocolPreset(
            "mem1",
            "think",
            reader=_mem1_turns,
            layout="continued",
            kept=_kept_by_mem1,
            kinds=frozenset({"qa"}),
            env_defaults={"max_turns": 6, "reward": "sum", "numbered_answers": False},
        )
    ),
)


PROTOCOLS.register("tools", _preset(ProtocolPreset("tools", "IS", reader=_tool_turns)))


def resolve_protocol(protocol: str | ProtocolPreset) -> ProtocolPreset:
    """The preset ``protocol`` names (a preset object is used as it is)."""
    return protocol if isinstance(protocol, ProtocolPreset) else PROTOCOLS.resolve(protocol)


def protocol_names() -> tuple[str, ...]:
    """Every preset's name, the default first."""
    return PROTOCOLS.prefixes()
