"""An envkit QA task as a TRL ``environment_factory`` environment: tools the model calls, the env's reward.

TRL 1.16's ``GRPOTrainer(environment_factory=...)`` (experimental) builds one instance per
rollout, calls ``reset(**row)`` with the dataset row and appends what it returns to the
prompt, exposes every public method as a tool (its schema from the type hints and the
docstring), runs the tool calls the model writes and scores the rollout with
``get_reward()``. Here ``reset`` starts an envkit episode (the row's ``task_index``
picks the task) and returns the questions; ``search(query)`` and ``answer(answers)``
play one envkit turn each and return what the env shows for it (the retrieved
passages, or the verdict); ``get_reward`` is the env's episode reward (EM or F1 per
question, as the env is configured).

What differs from envkit's own trainer: TRL keeps the whole growing conversation and
the tool-call format, so there is no ``<IS>`` state and no context consolidation; the
turns are rendered with an empty state. For MEM1's consolidated training use
``Mem1GRPOTrainer``, which trains every turn on exactly the context the protocol gave it.

    from envkit.adapters.trl_tools import qa_environment_factory
    trainer = GRPOTrainer(model, args=GRPOConfig(...), train_dataset=rows_with_task_index,
                          environment_factory=qa_environment_factory(source="synthetic", n_objectives=2))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym

from envkit.testing.conformance import EpisodeStep
from envkit.testing.conformance import latest_message as _latest

__all__ = ["QAToolEnvironment", "qa_environment_factory"]


class QAToolEnvironment:
    """One envkit QA episode behind two tools, ``search`` and ``answer``."""

    def __init__(self, make_env: Callable[[], gym.Env[str, str]]) -> None:
        self._env = make_env()
        self._tags = self._env.get_wrapper_attr("tags")
        self._reward = 0.0
        self._done = True
        self.steps: list[EpisodeStep] = []  # what each reset and tool call played (the conformance check reads it)

    def reset(self, **row: Any) -> str:
        """Start the episode of the row's ``task_index`` (a random task without one); return its questions."""
        index = row.get("task_index")
        options = {"task_index": int(index)} if index is not None else None
        seed = row.get("seed")
        observation, info = self._env.reset(seed=int(seed) if seed is not None else None, options=options)
        self._reward, self._done = 0.0, False
        self.steps = [EpisodeStep(observation, 0.0, False, _latest(info))]
        task = self._env.get_wrapper_attr("task")
        questions = "\n".join(f"{i}. {o.question}" for i, o in enumerate(task.objectives, 1))
        return (
            f"\n\nAnswer these {task.n_objectives} questions. Use the search tool to find passages, then call "
            f"answer once with one short answer per question, in order.\n{questions}"
        )

    def search(self, query: str) -> str:
        """Search the knowledge base for passages.

        Args:
            query: What to look for, e.g. a name and the fact you need.

        Returns:
            The passages found, or why the search could not run.

        """
        return self._turn("search", query)

    def answer(self, answers: list[str]) -> str:
        """Answer every question at once; this ends the episode.

        Args:
            answers: One short answer per question, in the order the questions were asked.

        Returns:
            Whether the episode ended and how it was scored.

        """
        return self._turn("answer", "; ".join(str(a) for a in answers))

    def get_reward(self) -> float:
        """The env's reward for the episode so far (0 until it is answered)."""
        return self._reward

    def _turn(self, action: str, content: str) -> str:
        if self._done:
            return "The episode is over: no more tool calls are played."
        observation, reward, terminated, truncated, info = self._env.step(self._tags.format_turn("", action, content))
        self._reward = float(reward)
        self._done = bool(terminated or truncated)
        shown = _latest(info)
        self.steps.append(EpisodeStep(observation, self._reward, self._done, shown))
        if self._done:
            scores = ", ".join(f"{s:.2f}" for s in info.get("objective_scores") or [])
            shown += f"\nThe episode is over (reward {self._reward:.2f}; per question: {scores})."
        return shown


def qa_environment_factory(**env_options: Any) -> Callable[[], QAToolEnvironment]:
    """TRL's ``environment_factory`` for envkit QA tasks (``env_options`` as ``gym.make("envkit/Tasks-v0")`` takes)."""
    from envkit.envs import TASKS_ENV_ID

    gym.make(TASKS_ENV_ID, **env_options).close()  # a bad option fails here, in one line

    def factory() -> QAToolEnvironment:
        return QAToolEnvironment(lambda: gym.make(TASKS_ENV_ID, **env_options))

    return factory
