"""Knowledge updates: facts that change during an episode, so an agent must overwrite what it keeps.

MEM1's objectives are fixed for the whole episode; memory benchmarks test knowledge
updates only as fixed evaluation sets. :func:`with_updates` turns any composed task into
one where ``k`` entities that answer its questions are renamed mid-episode: the env
announces ``"<old> is now called <new>."`` after a given turn (during the search phase),
and from then on an answer naming that entity must use the new name. The passages still
say the old name, so an agent has to replace what it retrieved and kept (in its state,
under ``consolidated``) with what it was told. Every objective whose answer is the
renamed entity changes with it, so in a chained task the objectives that depend on it
change too.

Updates are a pure function of the task (its id seeds them), so they compose with any
strategy (``parallel``, ``chained``, ``mixed``) and keep its split: nothing is drawn from
another split, and the new names are made-up words that no passage contains. Which
objectives can be renamed is the objective kinds' to say (``updatable``: questions can,
purchases cannot), so this module names no domain. ``TaskSet.with_updates``,
``gym.make(..., updates=k)`` and ``envkit compose --updates k`` apply it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace

from composers.records import Objective, Task, Update

__all__ = ["fresh_name", "with_updates"]

_SYLLABLES = ("qu", "zor", "vex", "thal", "nyr", "quil", "zeph", "dro", "kesh", "ulv", "yth", "brax")


def fresh_name(old: str, rng: random.Random) -> str:
    """A new name for ``old``: its first word replaced by a made-up word (the rest, e.g. "Press", kept)."""
    word = "".join(rng.choice(_SYLLABLES) for _ in range(3)).capitalize()
    rest = old.split(" ", 1)[1:]
    return " ".join([word, *rest])


def _renameable(answer: str) -> bool:
    """Names are renamed; years and other numbers are not facts that change."""
    return any(c.isalpha() for c in answer)


def with_updates(task: Task, k: int, updatable: Callable[[Objective], bool]) -> Task:
    """``task`` with ``k`` of its answer entities renamed mid-episode (fewer when it has fewer).

    ``updatable`` says which objectives' answers may be renamed (their kind's env
    announces updates and scores against them).
    """
    if k < 0:
        raise ValueError(f"updates must be non-negative, got {k}")
    if k == 0:
        return task
    rng = random.Random(f"{task.id}:updates:{k}")
    answers: list[str] = []
    for objective in task.objectives:
        answer = objective.golden_answers[0]
        if updatable(objective) and _renameable(answer) and answer not in answers:
            answers.append(answer)
    questions = sum(map(updatable, task.objectives))
    renamed = {
        old: Update(after_turn=rng.randint(1, max(1, questions)), old=old, new=fresh_name(old, rng))
        for old in rng.sample(answers, min(k, len(answers)))
    }
    objectives = tuple(
        replace(o, update=renamed[o.golden_answers[0]]) if updatable(o) and o.golden_answers[0] in renamed else o
        for o in task.objectives
    )
    return replace(task, id=f"{task.id}-u{k}", objectives=objectives)
