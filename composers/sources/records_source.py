"""Shared logic of sources backed by QA records (local files or Hugging Face data sets).

Subclasses say how to read the records of a split; this class normalises them,
drops duplicate questions (so a task never holds the same question twice), and keeps
split discipline: a train question whose text equals a question of the test split
(when the source has one) is dropped from train.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from composers.records import Objective, RecordError
from composers.sources.base import Document, SourceError
from composers.sources.schemas import UnanswerableRecord, hotpotqa_documents, question_key, to_objective

__all__ = ["LocatedRecord", "RecordsSource"]

LocatedRecord = tuple[str, Any]
"""A raw record and where it came from (``"file.jsonl:12"``), for error messages."""


class RecordsSource:
    """A QA source over records; subclasses implement :meth:`read_split`."""

    name: str
    test_split = "test"

    def __init__(self, name: str, spec: str | None = None) -> None:
        self.name = name
        self.spec = spec or name  # what each question's ``source`` names: a spec that opens this source again
        self._questions: dict[str, list[Objective]] = {}
        self._documents: list[Document] | None = None
        self.skipped: dict[str, int] = {}  # per split: records without a gold answer, left out

    def splits(self) -> Sequence[str]:
        """The splits this source can read."""
        raise NotImplementedError

    def read_split(self, split: str) -> Iterable[LocatedRecord]:
        """The raw records of ``split`` with their locations."""
        raise NotImplementedError

    def _objectives(self, split: str) -> Iterator[Objective]:
        skipped: list[str] = []
        for position, (location, record) in enumerate(self.read_split(split)):
            try:
                yield to_objective(record, self.name, position, self.spec)
            except UnanswerableRecord:
                skipped.append(location)  # no gold answer to score against: not a question
            except RecordError as error:
                raise SourceError(f"{location}: {error}") from None
        self.skipped[split] = len(skipped)
        if skipped:
            warnings.warn(
                f"{self.name}: skipped {len(skipped)} {split} record(s) whose gold answers are all empty "
                f"(first: {skipped[0]})",
                stacklevel=2,
            )

    def questions(self, split: str) -> Sequence[Objective]:
        if split not in self.splits():
            raise SourceError(f"source {self.name} has no {split!r} split (it has: {', '.join(self.splits())})")
        cached = self._questions.get(split)
        if cached is not None:
            return cached
        excluded: set[str] = set()
        if split != self.test_split and self.test_split in self.splits():
            excluded = {question_key(o.question) for o in self.questions(self.test_split)}
        seen: set[str] = set()
        kept: list[Objective] = []
        for objective in self._objectives(split):
            key = question_key(objective.question)
            if key in seen or key in excluded:
                continue
            seen.add(key)
            kept.append(objective)
        self._questions[split] = kept
        return kept

    def documents(self) -> Iterator[Document]:
        """Passages carried by the records themselves (HotpotQA's ``context``), if any."""
        if self._documents is None:
            records: list[Mapping[str, Any]] = []
            for split in self.splits():
                records.extend(r for _, r in self.read_split(split) if isinstance(r, Mapping) and "context" in r)
            self._documents = list(hotpotqa_documents(records))
        return iter(self._documents)
