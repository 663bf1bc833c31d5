"""Procedural reasoning problems (reasoning-gym) solved one after another, with only the state as scratchpad.

An episode lists N problems in its prompt. Each turn the agent writes its state and
answers the next unanswered problem, in order: ``<IS>...</IS><solve>answer</solve>``.
There is no tool: the only working memory that survives a turn under the
``consolidated`` context is the state. Answers are final and scored by the problem's
own reasoning-gym scorer (``reward += score / N``); the observation says only that
the answer was recorded and which problem is next, so the episode's score is known at
the end, as in MEM1's multi-objective QA.

Register nothing else: the source is :mod:`composers.sources.reasoning_gym`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym

from composers.records import Objective, Task
from composers.sources.reasoning_gym import problem_of
from envkit.envs.episodes import ProcessLocal, choose_task, read_turn, render_turn
from envkit.envs.spaces import UnicodeText
from envkit.kinds.answer_sandbox import sandbox
from envkit.kinds.base import ObjectiveKind
from envkit.protocol.parser import Violation
from envkit.protocol.prompts import PromptSection, numbered, state_rules
from envkit.protocol.tags import TagSet
from envkit.protocol.tool_calls import ToolSpec

__all__ = ["ReasoningEnv", "ReasoningKind", "ReasoningOracle", "score_solution"]


def score_solution(objective: Objective, answer: str) -> float:
    """The problem's own reasoning-gym score of ``answer``, clipped to [0, 1].

    The answer is an agent's text and several scorers evaluate it as Python (through
    sympy's ``parse_expr``), so it is scored in :mod:`envkit.kinds.answer_sandbox`'s
    worker: nothing in it can write, spawn or connect, and a scorer that errs, is refused
    or runs past the time limit scores 0.
    """
    _, entry = problem_of(objective)  # a bad id is the caller's error, raised here
    return sandbox().score(objective.id, entry, answer).score


class ReasoningEnv(ProcessLocal, gym.Env[str, str]):
    """N reasoning-gym problems per episode, answered in order.

    Args:
        tasks: tasks of ``kind="reasoning"`` objectives.
        max_turns: turns before ``truncated``; default ``2 * N + 2``.
        tags: one action tag (``solve``).
        max_action_chars: longer turns are a violation.
        render_mode: ``"ansi"`` or ``"human"``.

    ``info`` keys: ``task_id``, ``n_objectives``, ``turn``, ``action``, ``action_content``,
    ``violation``, ``violation_message``, ``objective_scores``, ``problem`` (the index
    answered).

    """

    metadata = {"render_modes": ["ansi", "human"], "render_fps": 4}  # noqa: RUF012 (Gymnasium declares it per instance)

    def __init__(
        self,
        tasks: Sequence[Task],
        max_turns: int | None = None,
        tags: TagSet = TagSet(actions=("solve",)),
        max_action_chars: int = 16_384,
        render_mode: str | None = None,
    ) -> None:
        if len(tasks) == 0:
            raise ValueError("the reasoning env needs at least one task")
        if len(tags.actions) != 1:
            raise ValueError(f"the reasoning env needs one action tag, got {tags.actions}")
        if max_turns is not None and max_turns < 1:
            raise ValueError(f"max_turns must be at least 1, got {max_turns}")
        self.tasks, self.tags, self.max_turns, self.render_mode = tasks, tags, max_turns, render_mode
        self.max_action_chars = max_action_chars
        self.observation_space = UnicodeText(262_144)
        self.action_space = UnicodeText(max_action_chars)
        self.task: Task | None = None
        self._scores: list[float] = []
        self._turn, self._done, self._last = 0, True, ""

    def turn_budget(self, task: Task) -> int:
        """Two turns per problem, plus two."""
        return 2 * task.n_objectives + 2

    @property
    def turns_left(self) -> int:
        """Turns the agent may still take in this episode."""
        return max(0, self._limit - self._turn) if self.task is not None else 0

    def prompt_section(self) -> PromptSection:
        """The problems as a composite task's section."""
        assert self.task is not None, "reset() first"
        solve = self.tags.actions[0]
        return PromptSection(
            goal=f"solve {self.task.n_objectives} problem(s)",
            actions=(f"solve the next unanswered problem: <{solve}> answer </{solve}> (each answer is final).",),
            heading="Problems",
            items=tuple(o.question for o in self.task.objectives),
        )

    def _prompt(self) -> str:
        assert self.task is not None
        solve = self.tags.actions[0]
        return (
            f"You will solve {self.task.n_objectives} problem(s), one answer per step, in order.\n"
            + state_rules(self.tags, "whether its answer was recorded")
            + f"2. Then answer the next unanswered problem: <{solve}> answer </{solve}>, in exactly the form the "
            f"problem asks for. Each answer is final and is scored at the end; answering the last problem ends "
            f"the episode.\nProblems:\n{numbered([o.question for o in self.task.objectives])}"
        )

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        """Start an episode; ``options={"task_index": i}`` picks a task, else one is drawn."""
        super().reset(seed=seed)
        index = choose_task(self.np_random, len(self.tasks), options)
        self.task = self.tasks[index]
        self._scores = []
        self._turn, self._done = 0, False
        self._limit = self.max_turns or self.turn_budget(self.task)
        self._last = self._prompt()
        info = {"task_id": self.task.id, "task_index": index, "n_objectives": self.task.n_objectives, "turn": 0}
        return self._last, {**info, "objective_scores": [0.0] * self.task.n_objectives}

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """Record one answer (or say what was wrong with the turn)."""
        if self._done or self.task is None:
            raise RuntimeError("the episode is over: call reset() before step()")
        self._turn += 1
        n = self.task.n_objectives
        info: dict[str, Any] = {"task_id": self.task.id, "n_objectives": n, "turn": self._turn, "action": None}
        info.update(action_content=None, violation=None, violation_message=None)
        reward, terminated = 0.0, False
        parsed = read_turn(action, self.tags, self.max_action_chars)
        if isinstance(parsed, Violation):
            info["violation"], info["violation_message"] = parsed.kind.value, parsed.message
            text = f"Invalid turn: {parsed.message}. Please {self.tags.describe()}."
        else:
            problem = len(self._scores)
            score = score_solution(self.task.objectives[problem], parsed.action.content.strip())
            self._scores.append(score)
            reward, terminated = score / n, len(self._scores) == n
            info.update(action="solve", action_content=parsed.action.content, problem=problem)
            following = "All problems are answered. Episode over." if terminated else f"Next: problem {problem + 2}."
            text = f"Answer to problem {problem + 1} of {n} recorded. {following}"
        info["objective_scores"] = self._scores + [0.0] * (n - len(self._scores))
        truncated = not terminated and self._turn >= self._limit
        self._done = terminated or truncated
        self._last = self.tags.information_block(text)
        if self.render_mode == "human":
            self.render()
        return self._last, reward, terminated, truncated, info

    def render(self) -> str | None:
        """``ansi``: the latest message as text; ``human``: print it."""
        return render_turn(self.render_mode, self._turn, self._last)


class ReasoningOracle:
    """Answers each problem with its generator's reference answer; its state counts what is done."""

    def __init__(self, tags: TagSet = TagSet(actions=("solve",))) -> None:
        self.tags = tags
        self._answers: list[str] = []
        self._next = 0

    def reset(self, task: Task) -> None:
        """Keep the reference answer of every problem of ``task``."""
        self._answers = [o.golden_answers[0] for o in task.objectives if o.kind == ReasoningKind.name]
        self._next = 0

    def act(self, observation: str, info: dict[str, Any]) -> str:
        """The next problem's reference answer."""
        index = min(self._next, len(self._answers) - 1)
        self._next += 1
        state = f"Problems answered: {index} of {len(self._answers)}. Now problem {index + 1}."
        return self.tags.format_turn(state, self.tags.actions[0], self._answers[index])


class ReasoningKind(ObjectiveKind):
    """``kind="reasoning"``: problems regenerated from their ids; no resource to open."""

    name = "reasoning"
    actions = ("solve",)
    tools = (ToolSpec("solve", "Answer the next unanswered problem (each answer is final).", "answer", "The answer."),)
    env_options = frozenset({"max_turns", "max_action_chars", "render_mode"})

    def open_resource(self, tasks: Sequence[Task], **options: Any) -> None:
        """Nothing: each objective regenerates its problem from its id."""
        return None

    def make_env(self, tasks: Sequence[Task], resource: Any, tags: TagSet, **options: Any) -> gym.Env[str, str]:
        """A :class:`ReasoningEnv` over ``tasks``."""
        return ReasoningEnv(tasks, tags=tags, **options)

    def oracle(self, tasks: Sequence[Task], tags: TagSet) -> ReasoningOracle:
        """The reasoning oracle (it answers from the task it is handed)."""
        return ReasoningOracle(tags)
