"""``ToolCallTurns``: a QA env whose agents act by calling tools (the ``tools`` protocol preset).

The wrapper sits on :class:`~envkit.envs.qa.MultiObjectiveQAEnv` and changes only how a
turn is written and what the prompt says (:mod:`envkit.protocol.tool_calls`): the prompt
lists the tools in the ``<tools>`` block tool-calling chat templates use, each turn's
``<tool_call>`` is read into the env's own action and handed on as a well-formed turn,
so the env scores, counts turns and retrieves as before and every context builder
(``consolidated`` included) shows the model what it shows any agent. A malformed call
still uses the turn (as any malformed turn does): the env records a violation and the
agent reads what was wrong with its call.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from envkit.protocol.tool_calls import ACTION_FORMAT_TOOL_CALL, ToolCallError, parse_tool_turn, tools_prompt

__all__ = ["ToolCallTurns"]

_FORMAT = {"action_format": ACTION_FORMAT_TOOL_CALL}  # scripted agents read it and write tool calls


class ToolCallTurns(gym.Wrapper[str, str, str, str]):
    """Read tool-call turns and write the tools prompt; everything else is the env's."""

    def __init__(self, env: gym.Env[str, str]) -> None:
        super().__init__(env)
        self._tags = env.get_wrapper_attr("tags")

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        """Start an episode; the observation is the tools prompt for the task's questions."""
        _, info = self.env.reset(seed=seed, options=options)
        task = self.env.get_wrapper_attr("task")
        return tools_prompt([o.question for o in task.objectives], self._tags), {**info, **_FORMAT}

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """Play the turn's tool call as the env's action; a malformed call is a violation the agent is told about."""
        parsed = parse_tool_turn(action, self._tags)
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
