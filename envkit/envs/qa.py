"""The multi-objective QA environment.

An episode is one :class:`~composers.records.Task`: N questions answered together
after any number of searches. Each step takes one agent turn (text) and answers with
one observation (text):

- ``<IS>...</IS><search>q</search>`` → the top-k passages in ``<information>``;
- ``<IS>...</IS><answer>a1; ...; aN</answer>`` → scored, episode ``terminated``;
- anything malformed → an ``<information>`` naming the problem (never an exception).

The observation here is the env's latest message only (the task prompt after
``reset``). What the agent is shown as context is the job of the
:class:`~envkit.envs.wrappers.ProtocolContext` wrapper that ``gym.make`` applies.

``info`` keys: ``task_id``, ``n_objectives``, ``turn``, ``action`` (``search``,
``answer`` or ``None``), ``action_content`` (the query or the answer text),
``violation`` (a :class:`ViolationKind` value or ``None``), ``violation_message``,
``objective_scores`` (each question's score under ``metric``, 0 until answered) and
``metrics`` (``em_sum``, ``em_mean``, ``f1_mean``: 0 until answered); after a search
``query`` and ``retrieved_ids``; after an answer ``answers``, ``objective_em``,
``objective_f1``, ``em_sum``, ``em_mean``, ``f1_mean``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym

from composers.records import Objective, Task, Update
from envkit.envs.episodes import ProcessLocal, choose_task, read_turn, render_turn
from envkit.envs.spaces import UnicodeText
from envkit.metrics import exact_match, f1_score, mem1_scores
from envkit.protocol.parser import Violation, parse_answers
from envkit.protocol.prompts import PromptSection, qa_prompt
from envkit.protocol.tags import QA_TAGS, TagSet
from envkit.retrieval.base import Retriever, RetrieverError, format_passages

__all__ = ["REWARD_AGGREGATIONS", "AnswerScoring", "MultiObjectiveQAEnv"]

REWARD_AGGREGATIONS = ("mean", "sum", "all")
METRICS = ("em", "f1", "mem1", "mem1_f1")


@dataclass(frozen=True, slots=True)
class AnswerScoring:
    """How an answer element is read and scored.

    Attributes:
        metric: ``"em"`` (default) or ``"f1"``: the per-objective score the reward uses;
            ``"mem1"`` / ``"mem1_f1"``: EM / F1 as MEM1's eval script scores them
            (:func:`~envkit.metrics.mem1_scores`: ``;``-split answers, no articles
            dropped, 0 when the answer count is wrong).
        reward: ``"mean"`` (default), ``"sum"`` (MEM1's reporting and training reward) or
            ``"all"`` (1 only if every objective is right).
        numbered_answers: read ``1. a 2. b`` as numbered answers too; MEM1 splits on ``;`` only.

    """

    metric: str = "em"
    reward: str = "mean"
    numbered_answers: bool = True

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise ValueError(f"unknown metric {self.metric!r} (use {' or '.join(METRICS)})")
        if self.reward not in REWARD_AGGREGATIONS:
            raise ValueError(f"unknown reward aggregation {self.reward!r} (use {', '.join(REWARD_AGGREGATIONS)})")

    def split(self, content: str) -> list[str]:
        """One answer per objective, in order."""
        if self.numbered_answers and not self.metric.startswith("mem1"):
            return parse_answers(content)
        return [a.strip() for a in content.split(";")]

    def aggregate(self, scores: Sequence[float]) -> float:
        """The episode reward of the objectives' scores."""
        if self.reward == "mean":
            return sum(scores) / len(scores)
        if self.reward == "sum":
            return float(sum(scores))
        return float(all(s == 1.0 for s in scores))


class MultiObjectiveQAEnv(ProcessLocal, gym.Env[str, str]):
    """N-objective question answering over a retriever.

    Args:
        tasks: the tasks ``reset`` draws from (a list, a task file's tasks, or a lazy
            :class:`~composers.TaskSet`).
        retriever: any :class:`~envkit.retrieval.base.Retriever`.
        top_k: passages per search.
        max_turns: turns before ``truncated``; default ``4 * N + 4``.
        scoring: how answers are read and scored (:class:`AnswerScoring`; ``gym.make`` takes
            its fields, ``metric``, ``reward`` and ``numbered_answers``, as options).
        tags: the protocol's tag names.
        max_action_chars: longer turns are a violation (protects memory).
        max_observation_chars: size of the observation space.
        render_mode: ``"ansi"`` or ``"human"``.

    """

    metadata = {"render_modes": ["ansi", "human"], "render_fps": 4}  # noqa: RUF012 (Gymnasium declares it per instance)

    def __init__(
        self,
        tasks: Sequence[Task],
        retriever: Retriever,
        top_k: int = 3,
        max_turns: int | None = None,
        scoring: AnswerScoring | None = None,
        tags: TagSet = QA_TAGS,
        max_action_chars: int = 16_384,
        max_observation_chars: int = 262_144,
        render_mode: str | None = None,
    ) -> None:
        if len(tasks) == 0:
            raise ValueError("the QA env needs at least one task")
        if top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {top_k}")
        if max_turns is not None and max_turns < 1:
            raise ValueError(f"max_turns must be at least 1, got {max_turns}")
        if len(tags.actions) != 2:
            raise ValueError(f"the QA env needs two action tags (search, answer), got {tags.actions}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"unknown render mode {render_mode!r} (use ansi or human)")
        self.tasks, self.retriever, self.top_k = tasks, retriever, top_k
        self.max_turns, self.scoring, self.tags = max_turns, scoring or AnswerScoring(), tags
        self.max_action_chars, self.render_mode = max_action_chars, render_mode
        self.observation_space = UnicodeText(max_observation_chars)
        self.action_space = UnicodeText(max_action_chars)
        self._search_tag, self._answer_tag = tags.actions
        self.task: Task | None = None
        self._scores: list[float] = []
        self._metrics: dict[str, float] = {}
        self._turn, self._done, self._last = 0, True, ""
        self._updates: dict[str, Update] = {}  # old name -> its knowledge update (composers.updates)
        self._announced: set[str] = set()

    # -- what a composite env and the runner read ------------------------------------

    def turn_budget(self, task: Task) -> int:
        """Four turns per question, plus four."""
        return 4 * task.n_objectives + 4

    @property
    def turns_left(self) -> int:
        """Turns the agent may still take in this episode (what MEM1's hint tells it)."""
        return max(0, self._limit - self._turn) if self.task is not None else 0

    def prompt_section(self) -> PromptSection:
        """The questions as a composite task's section."""
        assert self.task is not None, "reset() first"
        info, search, answer = self.tags.information, self._search_tag, self._answer_tag
        return PromptSection(
            goal=f"answer {self.task.n_objectives} question(s) by searching a knowledge base",
            actions=(
                f"search the knowledge base: <{search}> query </{search}>; the top {self.top_k} passages come back "
                f"inside <{info}> ... </{info}>.",
                f"answer all questions at once: <{answer}> answer 1; answer 2; ... </{answer}> (only once).",
            ),
            heading="Questions",
            items=tuple(o.question for o in self.task.objectives),
        )

    # -- episode -----------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        """Start an episode; ``options={"task_index": i}`` picks a task, else one is drawn."""
        super().reset(seed=seed)
        index = choose_task(self.np_random, len(self.tasks), options)
        self.task = self.tasks[index]
        self._turn, self._done = 0, False
        self._limit = self.max_turns or self.turn_budget(self.task)
        self._last = qa_prompt(self.task.objectives, self.tags, self.top_k)
        self._scores = [0.0] * self.task.n_objectives
        self._updates = {o.update.old: o.update for o in self.task.objectives if o.update is not None}
        self._announced = set()
        self._metrics = {"em_sum": 0.0, "em_mean": 0.0, "f1_mean": 0.0}
        return self._last, {
            "task_id": self.task.id,
            "task_index": index,
            "n_objectives": self.task.n_objectives,
            "turn": 0,
            "objective_scores": list(self._scores),
            "metrics": dict(self._metrics),
        }

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """Apply one agent turn: a search returns passages, an answer scores and ends the episode."""
        if self._done or self.task is None:
            raise RuntimeError("the episode is over: call reset() before step()")
        self._turn += 1
        info: dict[str, Any] = {
            "task_id": self.task.id,
            "n_objectives": self.task.n_objectives,
            "turn": self._turn,
            "action": None,
            "action_content": None,
            "violation": None,
            "violation_message": None,
        }
        reward, terminated = 0.0, False
        parsed = read_turn(action, self.tags, self.max_action_chars)
        if isinstance(parsed, Violation):
            info["violation"], info["violation_message"] = parsed.kind.value, parsed.message
            observation = self.tags.information_block(f"Invalid turn: {parsed.message}. Please {self.tags.describe()}.")
        elif parsed.action.name == self._search_tag:
            try:
                passages = self.retriever.search(parsed.action.content, self.top_k)
            except RetrieverError:
                self._turn -= 1  # an outage is not the agent's turn: the same turn can be played again
                raise
            info.update(action="search", query=parsed.action.content, retrieved_ids=[p.id for p in passages])
            info["action_content"] = parsed.action.content
            observation = self.tags.information_block(format_passages(passages))
        else:
            reward, summary = self._score(parsed.action.content, info)
            info["action"], info["action_content"], terminated = "answer", parsed.action.content, True
            observation = self.tags.information_block(summary)
        if not terminated:
            observation = self._announce(observation, info)
        info["objective_scores"], info["metrics"] = list(self._scores), dict(self._metrics)
        truncated = not terminated and self._turn >= self._limit
        self._done = terminated or truncated
        self._last = observation
        if self.render_mode == "human":
            self.render()
        return observation, reward, terminated, truncated, info

    def _announce(self, observation: str, info: dict[str, Any]) -> str:
        """Knowledge updates due after this turn, announced once each after the turn's own result."""
        due = [u for old, u in self._updates.items() if old not in self._announced and u.after_turn <= self._turn]
        if not due:
            return observation
        self._announced.update(u.old for u in due)
        info["updates"] = [u.statement for u in due]
        return f"{observation}\n{self.tags.information_block('[UPDATE] ' + ' '.join(info['updates']))}"

    def _golden(self, objective: Objective) -> tuple[str, ...]:
        """The answers that hold now: the new name once its update was announced."""
        update = objective.update
        return (update.new,) if update is not None and update.old in self._announced else objective.golden_answers

    def _score(self, content: str, info: dict[str, Any]) -> tuple[float, str]:
        assert self.task is not None
        objectives = self.task.objectives
        golden = [self._golden(o) for o in objectives]
        metric = self.scoring.metric
        mem1 = metric.startswith("mem1")
        answers = self.scoring.split(content)
        given = [answers[i] if i < len(answers) else "" for i in range(len(objectives))]
        if mem1:
            em, f1 = mem1_scores(content, golden)
        else:
            em = [exact_match(a, g) for a, g in zip(given, golden, strict=True)]
            f1 = [f1_score(a, g) for a, g in zip(given, golden, strict=True)]
        n = len(objectives)
        info.update(
            answers=given,
            answer_count=len(answers),
            objective_em=em,
            objective_f1=f1,
            em_sum=sum(em),
            em_mean=sum(em) / n,
            f1_mean=sum(f1) / n,
        )
        scores = em if metric in ("em", "mem1") else f1
        self._scores = list(scores)
        self._metrics = {"em_sum": float(sum(em)), "em_mean": sum(em) / n, "f1_mean": sum(f1) / n}
        reward = self.scoring.aggregate(scores)
        note = "" if len(answers) == n else f" (got {len(answers)} answers for {n} questions)"
        return reward, f"Answers received{note}. Episode over."

    def render(self) -> str | None:
        """``ansi``: the latest message as text; ``human``: print it."""
        return render_turn(self.render_mode, self._turn, self._last)
