"""Questions answered by searching a corpus (MEM1's multi-objective QA)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym

from composers.records import Task
from envkit.kinds.base import ObjectiveKind
from envkit.policy.scripted import Agent, OracleAgent
from envkit.protocol.tags import TagSet
from envkit.retrieval.base import Retriever

__all__ = ["QAKind"]


class QAKind(ObjectiveKind):
    """``kind="qa"``: the resource is a retriever over the questions' corpus.

    ``retriever`` is a :class:`~envkit.retrieval.base.Retriever`, an index folder or a
    server (used as it is), or a back-end spec that indexes ``corpus`` (a JSONL path)
    or, without one, the synthetic world the questions come from.
    """

    name = "qa"
    actions = ("search", "answer")
    resource_options = frozenset({"retriever", "corpus"})
    env_options = frozenset(
        {"top_k", "max_turns", "metric", "reward", "max_action_chars", "max_observation_chars", "render_mode"}
    )

    def open_resource(
        self, tasks: Sequence[Task], retriever: str | Retriever = "bm25", corpus: str | None = None, **_: Any
    ) -> Retriever:
        from envkit.envs.factory import retriever_for_tasks
        from envkit.retrieval.factory import needs_documents, open_retriever

        if not isinstance(retriever, str):
            return retriever
        if not needs_documents(retriever):
            return open_retriever(retriever)
        return retriever_for_tasks(retriever, [self.objectives_of(t) for t in tasks], corpus)

    def make_env(self, tasks: Sequence[Task], resource: Any, tags: TagSet, **options: Any) -> gym.Env[str, str]:
        from envkit.envs.qa import MultiObjectiveQAEnv

        return MultiObjectiveQAEnv(tasks, resource, tags=tags, **options)

    def oracle(self, tasks: Sequence[Task], tags: TagSet) -> Agent:
        return OracleAgent(tags)
