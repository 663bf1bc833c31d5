"""Normalise QA records of the common public schemas into :class:`Objective` s.

Recognised, by their keys:

- FlashRAG (MEM1, Search-R1): ``{id, question, golden_answers: [..]}``
- HotpotQA native: ``{_id, question, answer, supporting_facts, context, ...}``
- NQ-open: ``{question, answer: [..]}`` (no id: the record's position is used)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from composers.records import Objective, RecordError
from composers.sources.base import Document

__all__ = ["UnanswerableRecord", "hotpotqa_documents", "question_key", "to_objective"]

_SPACES = re.compile(r"\s+")
_SCHEMAS = "FlashRAG {id, question, golden_answers}, HotpotQA {_id, question, answer} or NQ-open {question, answer}"


class UnanswerableRecord(RecordError):
    """A record whose gold answers are all empty (FlashRAG's ``skr_training.json`` has one): skipped, counted."""


def question_key(question: str) -> str:
    """Case- and whitespace-insensitive identity of a question (for de-duplication and splits)."""
    return _SPACES.sub(" ", question).strip().lower()


def _answers(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value:
        raise RecordError("the answer field must be a non-empty string or list")
    answers = tuple(str(a) for a in value if str(a).strip())
    if not answers:
        raise UnanswerableRecord("every gold answer is empty")
    return answers


def to_objective(record: Mapping[str, Any], source: str, position: int, spec: str | None = None) -> Objective:
    """One record as an :class:`Objective` (raises :class:`RecordError` naming the problem).

    Its id is ``source:record id``; its ``source`` is ``spec`` (what opens the source again), else ``source``.
    """
    if not isinstance(record, Mapping):
        raise RecordError(f"expected a JSON object, got {type(record).__name__}")
    if "question" not in record:
        raise RecordError(f"unknown QA schema with keys {sorted(record)[:8]} (expected {_SCHEMAS})")
    question = record["question"]
    if not isinstance(question, str) or not question.strip():
        raise RecordError("'question' must be a non-empty string")
    if "golden_answers" in record:
        answers, record_id = _answers(record["golden_answers"]), record.get("id", position)
        supporting: tuple[str, ...] = ()
    elif "_id" in record and "answer" in record:
        answers, record_id = _answers(record["answer"]), record["_id"]
        supporting = tuple(dict.fromkeys(str(fact[0]) for fact in record.get("supporting_facts") or ()))
    elif "answer" in record:
        answers, record_id = _answers(record["answer"]), record.get("id", position)
        supporting = ()
    else:
        raise RecordError(f"unknown QA schema with keys {sorted(record)[:8]} (expected {_SCHEMAS})")
    return Objective(
        id=f"{source}:{record_id}",
        question=question.strip(),
        golden_answers=answers,
        source=spec or source,
        supporting_ids=supporting,
        queries=supporting,
    )


def hotpotqa_documents(records: Iterable[Mapping[str, Any]]) -> Iterator[Document]:
    """The paragraphs of HotpotQA-native ``context`` fields, one document per title."""
    seen: set[str] = set()
    for record in records:
        for paragraph in record.get("context") or ():
            title, sentences = str(paragraph[0]), paragraph[1]
            if title not in seen:
                seen.add(title)
                yield title, title, " ".join(str(s).strip() for s in sentences)
