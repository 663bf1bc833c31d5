"""``ToolCallTurns``: an env whose agents act by calling tools (the ``tools`` protocol preset).

The wrapper sits on any kind's env, or a composite of several, and changes only how a
turn is written and what the prompt says (:mod:`envkit.protocol.tool_calls`): the prompt
lists the tools of the env's actions (each kind declares its own, ``ObjectiveKind.tools``)
in the ``<tools>`` block tool-calling chat templates use, each turn's ``<tool_call>`` is
read into the env's own action and handed on as a well-formed turn, so the env scores,
counts turns, retrieves and shops as before and every context builder
(``consolidated`` included) shows the model what it shows any agent. A malformed call
still uses the turn (as any malformed turn does): the env records a violation and the
agent reads what was wrong with its call.
"""

from __future__ import annotations

from typing import Any, cast

import gymnasium as gym

from envkit.envs.episodes import too_long_to_read
from envkit.kinds.base import ObjectiveEnv
from envkit.kinds.registry import action_tools
from envkit.protocol.prompts import PromptSection
from envkit.protocol.tool_calls import ACTION_FORMAT_TOOL_CALL, ToolCallError, parse_tool_turn, tools_prompt

__all__ = ["ToolCallTurns"]

_FORMAT = {"action_format": ACTION_FORMAT_TOOL_CALL}  # scripted agents read it and write tool calls


class ToolCallTurns(gym.Wrapper[str, str, str, str]):
    """Read tool-call turns and write the tools prompt; everything else is the env's."""

    def __init__(self, env: gym.Env[str, str]) -> None:
        super().__init__(env)
        self._tags = env.get_wrapper_attr("tags")
        self._tools = action_tools(self._tags.actions)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        """Start an episode; the observation is the tools prompt for the task's objectives."""
        _, info = self.env.reset(seed=seed, options=options)
        return tools_prompt(self._sections(), self._tags, self._tools), {**info, **_FORMAT}

    def _sections(self) -> list[PromptSection]:
        """The env's parts of the prompt: a composite's, one per kind, or a kind env's own."""
        env = self.env.unwrapped
        sections = getattr(env, "prompt_sections", None)
        return list(sections()) if sections is not None else [cast(ObjectiveEnv, env).prompt_section()]

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """Play the turn's tool call as the env's action; a malformed call is a violation the agent is told about."""
        if too_long_to_read(self.env, action):  # the env refuses it as too long, unscanned
            observation, reward, terminated, truncated, info = self.env.step(action)
            return observation, float(reward), terminated, truncated, {**info, **_FORMAT}
        parsed = parse_tool_turn(action, self._tags, self._tools)
        if not isinstance(parsed, ToolCallError):
            observation, reward, terminated, truncated, info = self.env.step(
                self._tags.format_turn(parsed.state, parsed.action, parsed.content)
            )
            return observation, float(reward), terminated, truncated, {**info, **_FORMAT}
        # the env counts the turn and the violation; the agent reads what was wrong with its call
        first = self._tags.actions[0]
        _, reward, terminated, truncated, info = self.env.step(self._tags.format_turn(parsed.state, first, ""))
        info = {**info, **_FORMAT, "violation_message": parsed.message}
        observation = self._tags.wrap(
            self._tags.information,
            f"Invalid tool call: {parsed.message}. Write <{self._tags.state}>...</{self._tags.state}> then one "
            '<tool_call>{"name": ..., "arguments": {...}}</tool_call>.',
        )
        return observation, float(reward), terminated, truncated, info
