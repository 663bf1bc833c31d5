"""``Mem1Turns``: a QA env played the way MEM1's released code plays it.

The wrapper sits on :class:`~envkit.envs.qa.MultiObjectiveQAEnv` (tags ``<think>``,
``<search>``, ``<answer>``) and changes only what MEM1 does differently (see
:mod:`envkit.protocol.mem1`): the prompt is MEM1's; a turn is read as MEM1 reads it (the
first search or answer element, no state required) and handed on as a well-formed turn;
a turn without an action ends the episode with reward 0; and a search's passages come
back in MEM1's observation format with its turns-left hint. The env scores answers as
before, so rewards, ``objective_scores`` and metrics follow the env's ``metric`` and
``reward`` (the ``mem1`` protocol preset sets MEM1's: summed EM over ``;``-split answers).
:class:`~envkit.envs.wrappers.ProtocolContext`, in its ``continued`` layout, then shows the
model MEM1's context: the prompt, then its last response and that observation inside its
own open turn.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from envkit.envs.episodes import too_long_to_read
from envkit.envs.wrappers import turns_left_hint
from envkit.protocol.mem1 import mem1_action, mem1_information, mem1_prompt, mem1_response
from envkit.protocol.parser import ViolationKind

__all__ = ["Mem1Turns"]


class Mem1Turns(gym.Wrapper[str, str, str, str]):
    """Read turns, write the prompt and render observations as MEM1's training rollout does."""

    def __init__(self, env: gym.Env[str, str]) -> None:
        super().__init__(env)
        self._tags = env.get_wrapper_attr("tags")
        self._turn, self._done = 0, True
        self._reset_info: dict[str, Any] = {}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        """Start an episode; the observation is MEM1's prompt for the task's questions."""
        _, info = self.env.reset(seed=seed, options=options)
        self._turn, self._done = 0, False
        self._reset_info = info
        task = self.env.get_wrapper_attr("task")
        return mem1_prompt([o.question for o in task.objectives]), info

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """Play the first action of the turn; a turn without one ends the episode with reward 0."""
        if self._done:
            raise RuntimeError("the episode is over: call reset() before step()")
        text = action if isinstance(action, str) else ""
        if too_long_to_read(self.env, text):  # the env refuses it as too long, unscanned; the turn is used
            observation, reward, terminated, truncated, info = self.env.step(text)
            self._turn += 1
            self._done = terminated or truncated
            return observation, float(reward), terminated, truncated, info
        chosen = mem1_action(mem1_response(text, self._tags), self._tags)
        if chosen is None:
            self._turn += 1
            self._done = True
            return "", 0.0, True, False, self._no_action_info()
        turn = self._tags.format_turn("", chosen.name, chosen.content)
        observation, reward, terminated, truncated, info = self.env.step(turn)  # an outage raises: no turn used
        self._turn += 1
        self._done = terminated or truncated
        if terminated:
            return "", float(reward), terminated, truncated, info
        hint = "" if truncated else turns_left_hint(int(self.env.get_wrapper_attr("turns_left")))
        return mem1_information(self._inner_text(observation), hint, self._tags), float(reward), False, truncated, info

    def _inner_text(self, observation: str) -> str:
        """The env's message without its ``<information>`` element around it."""
        opening, closing = f"<{self._tags.information}>", f"</{self._tags.information}>"
        if observation.startswith(opening) and observation.endswith(closing):
            return observation[len(opening) : -len(closing)]
        return observation

    def _no_action_info(self) -> dict[str, Any]:
        """The info of a turn with no action: every objective unscored, the violation named."""
        search, answer = self._tags.actions
        return {
            "task_id": self._reset_info.get("task_id"),
            "n_objectives": self._reset_info.get("n_objectives"),
            "turn": self._turn,
            "action": None,
            "action_content": None,
            "violation": ViolationKind.MISSING_ACTION.value,
            "violation_message": f"no <{search}>...</{search}> or <{answer}>...</{answer}> element: episode over",
            "objective_scores": list(self._reset_info.get("objective_scores", [])),
            "metrics": dict(self._reset_info.get("metrics", {})),
        }
