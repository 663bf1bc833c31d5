"""A deterministic fictional world rendered as wiki-like passages.

The world has four entity types (people, cities, organisations, works), each with
*functional* relations: every entity has exactly one value per relation, so a
question that follows relations forward ("where was the founder of X born?") has
exactly one answer. Nothing is stored per entity: names, relation targets and
attribute values are hashes of ``(seed, entity, relation)``, so a world of a million
passages costs no memory until its passages are rendered.

Train/test discipline is built into the graph: each type's index range is cut into
a train part and a test part, and relation targets are drawn from the same part as
the subject. Questions, multi-hop paths and chains that start from a test entity
stay inside the test part, so no test question can leak into a train task, while
both parts share one corpus (and so one retrieval index).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass

from composers.sources.synthetic.names import FIRST_NAMES, WordSpace, hash_key

__all__ = ["RELATIONS", "SPLITS", "EntityType", "Relation", "SyntheticWorld"]

SPLITS = ("train", "test")

OCCUPATIONS = (
    "architect", "cartographer", "chemist", "composer", "diplomat", "engineer", "glassblower",
    "historian", "linguist", "mathematician", "navigator", "painter", "physician", "poet",
    "sculptor", "shipwright", "astronomer", "botanist", "jurist", "weaver",
)  # fmt: skip
COUNTRIES = (
    "Astovia", "Belmaria", "Corvalis", "Drenmark", "Esterland", "Felgaria", "Gorvain", "Haltria",
    "Istrevia", "Jorvenn", "Kestria", "Lomaris", "Morvania", "Norrath", "Ostevar", "Pellucia",
)  # fmt: skip
INDUSTRIES = (
    "shipbuilding", "publishing", "textiles", "mining", "banking", "pharmaceuticals", "brewing",
    "aviation", "software", "agriculture", "insurance", "railways", "film production", "optics",
)  # fmt: skip
ORG_KINDS = ("Industries", "Group", "Institute", "Press", "Foundation", "Holdings", "Company", "Works", "Guild")
PLACE_SUFFIXES = ("haven", "ford", "mouth", "stad", "bury", "vale", "port", "wick", "holm", "gard")
WORK_KINDS = (
    ("novel", "written", "Letters"),
    ("film", "directed", "Nights"),
    ("album", "recorded", "Sessions"),
    ("painting", "painted", "Study"),
    ("opera", "composed", "Cantata"),
)
FEATURES = ("harbour", "bell towers", "salt markets", "observatory", "bridges", "winter festival", "libraries")


def _with_article(noun: str) -> str:
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"


@dataclass(frozen=True, slots=True)
class EntityType:
    """One entity type and its share of the passages."""

    name: str
    share: float
    answer_noun: str  # how a chained question refers to an entity of this type


@dataclass(frozen=True, slots=True)
class Relation:
    """A functional relation of a subject type.

    ``target`` is an entity type name for entity-valued relations, ``None`` for
    attributes. ``question`` asks for the value given a subject phrase ``{s}``;
    ``phrase`` (entity relations only) names the value, for multi-hop questions.
    """

    name: str
    subject: str
    target: str | None
    question: str
    phrase: str | None = None


TYPES = (
    EntityType("person", 0.40, "the person who answers question {k}"),
    EntityType("place", 0.15, "the city that answers question {k}"),
    EntityType("organisation", 0.20, "the organisation that answers question {k}"),
    EntityType("work", 0.25, "the work that answers question {k}"),
)

RELATIONS: dict[str, tuple[Relation, ...]] = {
    "person": (
        Relation("born_in", "person", "place", "In which city was {s} born?", "the birthplace of {s}"),
        Relation("employer", "person", "organisation", "Which organisation does {s} work for?", "the employer of {s}"),
        Relation("birth_year", "person", None, "In what year was {s} born?"),
        Relation("occupation", "person", None, "What is the occupation of {s}?"),
    ),
    "place": (
        Relation("mayor", "place", "person", "Who is the mayor of {s}?", "the mayor of {s}"),
        Relation("country", "place", None, "In which country is {s}?"),
        Relation("founded", "place", None, "In what year was {s} founded?"),
    ),
    "organisation": (
        Relation("founder", "organisation", "person", "Who founded {s}?", "the founder of {s}"),
        Relation(
            "headquarters",
            "organisation",
            "place",
            "In which city is {s} headquartered?",
            "the headquarters city of {s}",
        ),
        Relation("industry", "organisation", None, "In which industry does {s} operate?"),
        Relation("founded", "organisation", None, "In what year was {s} founded?"),
    ),
    "work": (
        Relation("creator", "work", "person", "Who created {s}?", "the creator of {s}"),
        Relation("publisher", "work", "organisation", "Which organisation published {s}?", "the publisher of {s}"),
        Relation("year", "work", None, "In what year was {s} released?"),
    ),
}
_TYPE_NAMES = tuple(t.name for t in TYPES)
RELATION_INDEX = {(r.subject, r.name): i for rels in RELATIONS.values() for i, r in enumerate(rels)}
MIN_PASSAGES = 40


class SyntheticWorld:
    """A seeded world of ``passages`` entities, one passage each.

    Entity ``g`` (an integer in ``[0, passages)``) is rendered as the passage with id
    ``str(g)``. Types occupy consecutive index ranges; inside each range the last
    ``test_fraction`` of entities form the test part.
    """

    def __init__(self, passages: int = 10_000, seed: int = 0, test_fraction: float = 0.1) -> None:
        if passages < MIN_PASSAGES:
            raise ValueError(f"a synthetic world needs at least {MIN_PASSAGES} passages, got {passages}")
        if not 0.0 < test_fraction < 1.0:
            raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
        self.passages, self.seed, self.test_fraction = passages, seed, test_fraction
        counts = [max(4, int(passages * t.share)) for t in TYPES]
        counts[0] = passages - sum(counts[1:])
        self._ranges: dict[str, tuple[int, int]] = {}
        self._splits: dict[tuple[str, str], tuple[int, int]] = {}
        start = 0
        for entity_type, count in zip(TYPES, counts, strict=True):
            self._ranges[entity_type.name] = (start, count)
            n_test = max(1, math.ceil(count * test_fraction))
            self._splits[(entity_type.name, "train")] = (start, count - n_test)
            self._splits[(entity_type.name, "test")] = (start + count - n_test, n_test)
            start += count
        self._bounds = [self._ranges[t.name][0] for t in TYPES]
        self._words2 = WordSpace(2, seed)
        self._words3 = WordSpace(3, seed)

    # -- structure ---------------------------------------------------------------------

    def type_of(self, entity: int) -> str:
        """The type name of entity ``entity``."""
        if not 0 <= entity < self.passages:
            raise IndexError(f"entity {entity} outside [0, {self.passages})")
        return _TYPE_NAMES[bisect_right(self._bounds, entity) - 1]

    def split_of(self, entity: int) -> str:
        """``"train"`` or ``"test"``: the part of the world ``entity`` lives in."""
        start, count = self._splits[(self.type_of(entity), "test")]
        return "test" if entity >= start and entity < start + count else "train"

    def entities(self, entity_type: str, split: str) -> range:
        """The entity indices of one type in one split."""
        start, count = self._splits[(entity_type, split)]
        return range(start, start + count)

    def _pick(self, entity: int, salt: int, modulo: int) -> int:
        return hash_key(self.seed, entity, salt) % modulo

    def target(self, entity: int, relation: Relation) -> int:
        """The entity that ``relation`` maps ``entity`` to (same split as ``entity``)."""
        if relation.target is None:
            raise ValueError(f"relation {relation.name} is an attribute, not an entity relation")
        split = self.split_of(entity)
        start, count = self._splits[(relation.target, split)]
        return start + self._pick(entity, 1000 + RELATION_INDEX[(relation.subject, relation.name)], count)

    def value(self, entity: int, relation: Relation) -> str:
        """The answer text of ``relation`` for ``entity`` (a name or an attribute)."""
        if relation.target is not None:
            return self.name(self.target(entity, relation))
        salt = 2000 + RELATION_INDEX[(relation.subject, relation.name)]
        key = (relation.subject, relation.name)
        if key == ("person", "birth_year"):
            return str(1820 + self._pick(entity, salt, 185))
        if key == ("person", "occupation"):
            return OCCUPATIONS[self._pick(entity, salt, len(OCCUPATIONS))]
        if key == ("place", "country"):
            return COUNTRIES[self._pick(entity, salt, len(COUNTRIES))]
        if key == ("place", "founded"):
            return str(900 + self._pick(entity, salt, 1000))
        if key == ("organisation", "industry"):
            return INDUSTRIES[self._pick(entity, salt, len(INDUSTRIES))]
        if key == ("organisation", "founded"):
            return str(1800 + self._pick(entity, salt, 220))
        if key == ("work", "year"):
            return str(1850 + self._pick(entity, salt, 175))
        raise KeyError(f"no value rule for relation {relation.subject}.{relation.name}")

    def relation(self, subject_type: str, name: str) -> Relation:
        """Look up a relation by subject type and name."""
        return RELATIONS[subject_type][RELATION_INDEX[(subject_type, name)]]

    # -- names -------------------------------------------------------------------------

    def name(self, entity: int) -> str:
        """The unique name of ``entity``."""
        entity_type = self.type_of(entity)
        local = entity - self._ranges[entity_type][0]
        if entity_type == "person":
            first = FIRST_NAMES[hash_key(self.seed, entity, 7) % len(FIRST_NAMES)]
            return f"{first} {self._words2.word(local)}"
        if entity_type == "place":
            # place stems come after every surname in the two-syllable word space
            stem = self._words2.word(self._ranges["person"][1] + local)
            return stem + PLACE_SUFFIXES[local % len(PLACE_SUFFIXES)]
        if entity_type == "organisation":
            return f"{self._words3.word(local)} {ORG_KINDS[local % len(ORG_KINDS)]}"
        word = self._words3.word(self._ranges["organisation"][1] + local)
        return f"{word} {WORK_KINDS[local % len(WORK_KINDS)][2]}"

    # -- passages ----------------------------------------------------------------------

    def title(self, entity: int) -> str:
        """The passage title (the entity's name)."""
        return self.name(entity)

    def text(self, entity: int) -> str:
        """The passage body: the entity's relations written as prose."""
        entity_type = self.type_of(entity)
        name = self.name(entity)
        rel = RELATIONS[entity_type]
        v = [self.value(entity, r) for r in rel]
        if entity_type == "person":
            surname = name.split(" ", 1)[1]
            return (
                f"{name} is {_with_article(v[3])} born in {v[0]} in {v[2]}. After an apprenticeship, "
                f"{surname} joined {v[1]} and has worked there for most of a long career."
            )
        if entity_type == "place":
            feature = FEATURES[self._pick(entity, 9, len(FEATURES))]
            return (
                f"{name} is a city in {v[1]}, founded in {v[2]}. Its current mayor is {v[0]}. "
                f"{name} is known for its {feature}."
            )
        if entity_type == "organisation":
            return (
                f"{name} is {_with_article(v[2])} organisation founded in {v[3]} by {v[0]}. "
                f"It is headquartered in {v[1]}."
            )
        kind, verb, _ = WORK_KINDS[(entity - self._ranges["work"][0]) % len(WORK_KINDS)]
        return f"{name} is {_with_article(kind)} {verb} by {v[0]}. It was released in {v[2]} by {v[1]}."

    def passage(self, entity: int) -> tuple[str, str, str]:
        """``(id, title, text)`` of the passage about ``entity``."""
        return str(entity), self.title(entity), self.text(entity)

    def iter_passages(self) -> Iterator[tuple[str, str, str]]:
        """Every passage, in id order, rendered on the fly."""
        for entity in range(self.passages):
            yield self.passage(entity)

    def __repr__(self) -> str:
        return f"SyntheticWorld(passages={self.passages}, seed={self.seed}, test_fraction={self.test_fraction})"
