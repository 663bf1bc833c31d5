"""Questions over a :class:`SyntheticWorld` whose answers and evidence are known.

Two generators, both pure functions of ``(world, split, key)``:

- :func:`sample_question`: a 1-3 hop question that names its start entity, e.g.
  "In what year was the founder of Kelvaro Works born?" Its supporting passages are
  the entities along the path; its ``queries`` are their names (what the oracle
  searches for).
- :func:`sample_chain`: ``n`` objectives where objective ``k+1`` asks about the
  answer of objective ``k`` without naming it ("In which city was the person who
  answers question 1 born?"), so it cannot be resolved before objective ``k``.
"""

from __future__ import annotations

import re
from functools import lru_cache

from composers.records import Objective
from composers.sources.synthetic.names import hash_key
from composers.sources.synthetic.world import RELATIONS, SPLITS, TYPES, Relation, SyntheticWorld

__all__ = ["SOURCE_NAME", "parse_world_key", "sample_chain", "sample_question", "world_key", "world_spec"]

SOURCE_NAME = "synthetic"
_WORLD_KEY = re.compile(r"syn(-?\d+)-(\d+)-t([0-9.eE-]+):")
_ANSWER_NOUN = {t.name: t.answer_noun for t in TYPES}
_ENTITY_RELATIONS = {t: tuple(r for r in rels if r.target is not None) for t, rels in RELATIONS.items()}
_ATTRIBUTES = {t: tuple(r for r in rels if r.target is None) for t, rels in RELATIONS.items()}


def _random_entity(world: SyntheticWorld, split: str, h: int) -> int:
    ranges = [world.entities(t.name, split) for t in TYPES]
    offset = h % sum(len(r) for r in ranges)
    for entity_range in ranges:
        if offset < len(entity_range):
            return entity_range[offset]
        offset -= len(entity_range)
    raise AssertionError("unreachable")


def _prefix(world: SyntheticWorld) -> str:
    return world_key(world)


def world_spec(world: SyntheticWorld) -> str:
    """The source spec that rebuilds ``world`` (and its corpus): what its objectives name as their ``source``."""
    return _spec(world.passages, world.seed, world.test_fraction)


@lru_cache(maxsize=64)
def _spec(passages: int, seed: int, test_fraction: float) -> str:
    """One string object per world, shared by its objectives (a question bank holds 50k of them)."""
    spec = f"{SOURCE_NAME}:passages={passages},seed={seed}"
    return spec if test_fraction == 0.1 else f"{spec},test_fraction={test_fraction:g}"


def world_key(world: SyntheticWorld) -> str:
    """The prefix of every objective id of ``world``; :func:`parse_world_key` inverts it."""
    return f"syn{world.seed}-{world.passages}-t{world.test_fraction:g}"


def parse_world_key(objective_id: str) -> tuple[int, int, float] | None:
    """``(seed, passages, test_fraction)`` of the world an objective id came from, if synthetic."""
    match = _WORLD_KEY.match(objective_id)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2)), float(match.group(3))


def sample_question(world: SyntheticWorld, split: str, key: int, max_hops: int = 3) -> Objective:
    """A question with 1 to ``max_hops`` hops, deterministic in ``(world, split, key)``."""
    split_code = SPLITS.index(split)
    h = hash_key(world.seed, 31 + split_code, key)
    roll = h % 100
    hops = 1 if roll < 50 else 2 if roll < 85 else 3
    hops = min(hops, max_hops)
    entity = _random_entity(world, split, h >> 8)
    path_entities = [entity]
    path: list[Relation] = []
    for hop in range(hops - 1):
        options = _ENTITY_RELATIONS[world.type_of(entity)]
        relation = options[hash_key(world.seed, key, hop, 11 + split_code) % len(options)]
        nxt = world.target(entity, relation)
        if nxt in path_entities:
            break
        path.append(relation)
        path_entities.append(nxt)
        entity = nxt
    finals = RELATIONS[world.type_of(entity)]
    final = finals[hash_key(world.seed, key, 97 + split_code) % len(finals)]
    if final.target is not None and world.target(entity, final) in path_entities:
        attributes = _ATTRIBUTES[world.type_of(entity)]
        final = attributes[key % len(attributes)]
    subject = world.name(path_entities[0])
    for relation in path:
        assert relation.phrase is not None
        subject = relation.phrase.format(s=subject)
    signature = "/".join([*(r.name for r in path), final.name])
    return Objective(
        id=f"{_prefix(world)}:{path_entities[0]}:{signature}",
        question=final.question.format(s=subject),
        golden_answers=(world.value(entity, final),),
        source=world_spec(world),
        supporting_ids=tuple(str(e) for e in path_entities),
        queries=tuple(world.name(e) for e in path_entities),
    )


def sample_chain(world: SyntheticWorld, split: str, n: int, key: int) -> tuple[Objective, ...]:
    """``n`` objectives, each one hop from the previous objective's answer.

    The walk never asks the same (entity, relation) twice and prefers unvisited
    entities. If it reaches an entity with nothing left to ask (only possible in very
    small worlds), it restarts from a new named entity, and that objective has no
    dependency; :attr:`Objective.depends_on` always tells the truth.
    """
    if n < 1:
        raise ValueError(f"a chain needs at least one objective, got {n}")
    split_code = SPLITS.index(split)
    prefix = _prefix(world)
    objectives: list[Objective] = []
    asked: set[tuple[int, str]] = set()
    visited: set[int] = set()
    entity = _random_entity(world, split, hash_key(world.seed, 53 + split_code, key))
    subject, depends_on = world.name(entity), None
    restarts = 0
    while len(objectives) < n:
        k = len(objectives)
        visited.add(entity)
        last = k == n - 1
        entity_type = world.type_of(entity)
        options = RELATIONS[entity_type] if last else _ENTITY_RELATIONS[entity_type]
        fresh = [r for r in options if (entity, r.name) not in asked]
        targets = {r.name: world.target(entity, r) for r in fresh if r.target is not None}
        unvisited = [r for r in fresh if r.target is None or targets[r.name] not in visited]
        choices = unvisited or fresh
        if not choices:
            restarts += 1
            entity = _random_entity(world, split, hash_key(world.seed, 59 + split_code, key, restarts))
            subject, depends_on = world.name(entity), None
            if restarts > 64 * n:
                raise ValueError(f"the {split} part of {world!r} is too small for a chain of {n} objectives")
            continue
        relation = choices[hash_key(world.seed, key, k, 61 + split_code) % len(choices)]
        asked.add((entity, relation.name))
        target = targets.get(relation.name)
        objectives.append(
            Objective(
                id=f"{prefix}:{entity}:{relation.name}",
                question=relation.question.format(s=subject),
                golden_answers=(world.value(entity, relation) if target is None else world.name(target),),
                source=world_spec(world),
                supporting_ids=(str(entity),),
                queries=(world.name(entity),),
                depends_on=depends_on,
            )
        )
        if target is not None:
            entity = target
            subject, depends_on = _ANSWER_NOUN[world.type_of(entity)].format(k=k + 1), k
    return tuple(objectives)
