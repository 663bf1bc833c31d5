"""The task record: what composers produce and environments consume.

A :class:`Task` is an ordered tuple of :class:`Objective` s, one episode's worth of
goals. Records are plain data: frozen, hashable, and serialisable to one JSON object
per task (``schema == "envkit.task/1"``) so that a suite written today loads in later
versions. QA objectives carry their gold answers; ``queries`` are the searches that
reach the supporting passages (what the oracle agent issues); ``depends_on`` is the
index of the objective whose answer this one needs (chained tasks); ``update`` is a
change of the answer announced during the episode (knowledge updates,
:mod:`composers.updates`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SCHEMA", "Objective", "RecordError", "Task", "Update"]

SCHEMA = "envkit.task/1"
_STATEMENT = re.compile(r"(.+?) is now called (.+?)\.(?:\s|$)")  # Update.statement


class RecordError(ValueError):
    """A task record that does not follow the schema."""


def _json_type(value: Any) -> str:
    """A JSON value's type as a person names it."""
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number" if isinstance(value, int | float) else type(value).__name__)


def _require_object(data: Any, what: str) -> None:
    """A record must be a JSON object (a line holding an array said "'list' object has no attribute 'get'")."""
    if not isinstance(data, Mapping):
        raise RecordError(f"{what} must be a JSON object, got {_json_type(data)}")


@dataclass(frozen=True, slots=True)
class Update:
    """A fact that stops holding during the episode: after turn ``after_turn`` the env announces that the
    entity called ``old`` is now called ``new``, and an answer naming it must use the new name.
    """

    after_turn: int
    old: str
    new: str

    @property
    def statement(self) -> str:
        """What the env announces (:meth:`renames_in` reads it back)."""
        return f"{self.old} is now called {self.new}."

    @staticmethod
    def renames_in(text: str) -> dict[str, str]:
        """Old name -> new name for every announced :attr:`statement` in ``text``."""
        return dict(_STATEMENT.findall(text))

    def to_dict(self) -> dict[str, Any]:
        return {"after_turn": self.after_turn, "old": self.old, "new": self.new}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Update:
        _require_object(data, "an update")
        try:
            return cls(int(data["after_turn"]), str(data["old"]), str(data["new"]))
        except KeyError as missing:
            raise RecordError(f"an update is missing the field {missing}") from None


@dataclass(frozen=True, slots=True)
class Objective:
    """One goal of a task: a question and its gold answers."""

    id: str
    question: str
    golden_answers: tuple[str, ...]
    source: str
    supporting_ids: tuple[str, ...] = ()
    queries: tuple[str, ...] = ()
    depends_on: int | None = None
    kind: str = "qa"
    update: Update | None = None

    def to_dict(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "question": self.question,
            "golden_answers": list(self.golden_answers),
            "source": self.source,
            "supporting_ids": list(self.supporting_ids),
            "queries": list(self.queries),
            "depends_on": self.depends_on,
        }
        if self.update is not None:  # only then: files of tasks without updates keep their bytes
            record["update"] = self.update.to_dict()
        return record

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Objective:
        _require_object(data, "an objective")
        try:
            answers = data["golden_answers"]
            if isinstance(answers, str) or not isinstance(answers, Sequence) or not answers:
                raise RecordError(f"objective {data.get('id')!r}: golden_answers must be a non-empty list")
            depends_on = data.get("depends_on")
            return cls(
                id=str(data["id"]),
                question=str(data["question"]),
                golden_answers=tuple(str(a) for a in answers),
                source=str(data.get("source", "")),
                supporting_ids=tuple(str(s) for s in data.get("supporting_ids") or ()),
                queries=tuple(str(q) for q in data.get("queries") or ()),
                depends_on=None if depends_on is None else int(depends_on),
                kind=str(data.get("kind", "qa")),
                update=Update.from_dict(data["update"]) if data.get("update") else None,
            )
        except KeyError as missing:
            raise RecordError(f"objective is missing the field {missing}") from None


@dataclass(frozen=True, slots=True)
class Task:
    """One episode's objectives, with where they came from."""

    id: str
    objectives: tuple[Objective, ...]
    strategy: str
    split: str
    seed: int
    sources: tuple[str, ...] = field(default=())
    corpus: str | None = None  # the passages its questions are answered from, when their sources ship none

    @property
    def n_objectives(self) -> int:
        return len(self.objectives)

    def to_dict(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "schema": SCHEMA,
            "id": self.id,
            "strategy": self.strategy,
            "split": self.split,
            "seed": self.seed,
            "sources": list(self.sources),
            "n_objectives": len(self.objectives),
            "objectives": [o.to_dict() for o in self.objectives],
        }
        if self.corpus is not None:
            record["corpus"] = self.corpus
        return record

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Task:
        _require_object(data, "a task")
        schema = data.get("schema")
        if schema != SCHEMA:
            raise RecordError(f"unsupported task schema {schema!r} (expected {SCHEMA!r})")
        try:
            listed = data["objectives"]
            if not isinstance(listed, list):
                raise RecordError(f"task {data.get('id')!r}: objectives must be a JSON array, got {_json_type(listed)}")
            objectives = tuple(Objective.from_dict(o) for o in listed)
            if not objectives:
                raise RecordError(f"task {data.get('id')!r} has no objectives")
            for index, objective in enumerate(objectives):
                if objective.depends_on is not None and not 0 <= objective.depends_on < index:
                    raise RecordError(
                        f"task {data['id']!r}: objective {index} depends on {objective.depends_on}, "
                        "which is not an earlier objective"
                    )
            return cls(
                id=str(data["id"]),
                objectives=objectives,
                strategy=str(data["strategy"]),
                split=str(data["split"]),
                seed=int(data["seed"]),
                sources=tuple(str(s) for s in data.get("sources") or ()),
                corpus=None if data.get("corpus") is None else str(data["corpus"]),
            )
        except KeyError as missing:
            raise RecordError(f"task is missing the field {missing}") from None
        except (TypeError, ValueError) as error:
            if isinstance(error, RecordError):
                raise
            raise RecordError(f"task {data.get('id')!r} has a malformed field: {error}") from None
