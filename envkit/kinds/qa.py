"""Questions answered by searching a corpus (MEM1's multi-objective QA)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import gymnasium as gym

from composers.records import Task, Update
from envkit.kinds.base import ObjectiveKind
from envkit.protocol.agent import Agent
from envkit.protocol.tags import QA_TAGS, TagSet
from envkit.protocol.tool_calls import ToolSpec
from envkit.retrieval.base import Retriever

__all__ = ["OracleAgent", "QAKind"]

_SCORING = ("metric", "reward", "numbered_answers")  # gym.make options that make the env's AnswerScoring


_UPDATE = re.compile(r"\[UPDATE\] (.*?)</")  # the env's announcement of knowledge updates


class OracleAgent:
    """Searches each objective's gold queries, then answers with the gold answers.

    A knowledge update the env announces ("X is now called Y.") replaces the old name in
    its state and its answers from then on; ``follow_updates=False`` is the agent that
    never updates what it keeps (the control that must score lower on update tasks).
    """

    def __init__(self, tags: TagSet = QA_TAGS, carry_answers: bool = True, follow_updates: bool = True) -> None:
        self.tags, self.carry_answers, self.follow_updates = tags, carry_answers, follow_updates
        self._renamed: dict[str, str] = {}
        self._plan: list[tuple[int, int, str]] = []  # (objective, hop, query)
        self._step = 0
        self.reached = True

    def reset(self, task: Task) -> None:
        """Plan the gold queries of every objective of ``task``, in order."""
        self.task = task
        self._plan = [
            (index, hop, query)
            for index, o in enumerate(task.objectives)
            for hop, query in enumerate(o.queries or (o.question,))
        ]
        self._needed = {index: set(o.supporting_ids) for index, o in enumerate(task.objectives)}
        self._seen: set[str] = set()
        self._renamed = {}
        self._step = 0
        self.reached = True

    def _answer(self, index: int) -> str:
        """What it answers for objective ``index``: the gold answer, under its new name once told."""
        answer = self.task.objectives[index].golden_answers[0]
        return self._renamed.get(answer, answer)

    def _state(self, resolved: int, hop: int = 0) -> str:
        """What the oracle knows before its next action, written so that the action follows from it.

        It lists the answers found so far and, inside a multi-hop question, the entities
        the previous searches led to (the last one is what it searches next), so an
        imitating model can see from the state alone which step comes next.
        """
        if not self.carry_answers:  # a state of constant size: the probe of a builder's own growth
            return f"Working on question {min(resolved + 1, len(self.task.objectives))}."
        found = "; ".join(f"{i + 1}. {self._answer(i)}" for i in range(resolved))
        state = f"Answers so far: {found or 'none'}."
        if hop > 0:
            path = " -> ".join(self.task.objectives[resolved].queries[: hop + 1])
            state += f" Question {resolved + 1}: {path}."
        return f"{state} {len(self.task.objectives) - resolved} question(s) left."

    def act(self, observation: str, info: dict[str, Any]) -> str:
        """The next gold search, or the gold answers once every search is done."""
        self._seen.update(info.get("retrieved_ids") or ())
        if self.follow_updates:
            for announcement in _UPDATE.findall(observation):
                self._renamed.update(Update.renames_in(announcement))
        search, answer = self.tags.actions
        if self._step < len(self._plan):
            index, hop, query = self._plan[self._step]
            self._step += 1
            return self.tags.format_turn(self._state(index, hop), search, query)
        self.reached = all(ids <= self._seen for ids in self._needed.values())
        answers = "; ".join(self._answer(i) for i in range(len(self.task.objectives)))
        return self.tags.format_turn(self._state(len(self.task.objectives)), answer, answers)


class QAKind(ObjectiveKind):
    """``kind="qa"``: the resource is a retriever over the questions' corpus.

    ``retriever`` is a :class:`~envkit.retrieval.base.Retriever`, an index folder or a
    server (used as it is), or a back-end spec that indexes ``corpus`` (a JSONL path)
    or, without one, the passages the composing ``sources`` ship (the synthetic world,
    HotpotQA contexts), or the corpus the questions' own ``source`` specs name (a task
    file of synthetic questions names its world: ``synthetic:passages=10000,seed=0``).
    """

    name = "qa"
    actions = ("search", "answer")
    updatable = True
    tools = (
        ToolSpec(
            "search",
            "Search the knowledge base; the top passages come back inside <information>.",
            "query",
            "What to look for.",
        ),
        ToolSpec(
            "answer",
            "Answer every question at once, in order (only once).",
            "answers",
            "One short answer per question, in the order asked.",
            many=True,
        ),
    )
    resource_options = frozenset({"retriever", "corpus"})
    env_options = frozenset(
        {
            "top_k",
            "max_turns",
            "metric",
            "reward",
            "numbered_answers",
            "max_action_chars",
            "max_observation_chars",
            "render_mode",
        }
    )

    def open_resource(
        self,
        tasks: Sequence[Task],
        retriever: str | Retriever = "bm25",
        corpus: str | None = None,
        sources: Sequence[Any] = (),
        **_: Any,
    ) -> Retriever:
        """The retriever the questions are searched with (see the class docstring)."""
        from composers.sources.base import CorpusSource
        from envkit.envs.factory import retriever_for_sources, retriever_for_tasks
        from envkit.retrieval.factory import needs_documents, open_retriever

        if not isinstance(retriever, str):
            return retriever
        if not needs_documents(retriever):
            return open_retriever(retriever)
        passages = [s for s in sources if isinstance(s, CorpusSource)]
        if corpus is None and passages:
            return retriever_for_sources(retriever, passages, None)
        return retriever_for_tasks(retriever, [self.objectives_of(t) for t in tasks], corpus)

    def make_env(self, tasks: Sequence[Task], resource: Any, tags: TagSet, **options: Any) -> gym.Env[str, str]:
        """A :class:`~envkit.envs.qa.MultiObjectiveQAEnv` over ``tasks`` (``metric``, ``reward``,
        ``numbered_answers`` make its :class:`~envkit.envs.qa.AnswerScoring`).
        """
        from envkit.envs.qa import AnswerScoring, MultiObjectiveQAEnv

        scoring = AnswerScoring(**{k: options.pop(k) for k in _SCORING if k in options})
        return MultiObjectiveQAEnv(tasks, resource, scoring=scoring, tags=tags, **options)

    def oracle(self, tasks: Sequence[Task], tags: TagSet) -> Agent:
        """The QA oracle (it needs nothing but the task it is handed)."""
        return OracleAgent(tags)
