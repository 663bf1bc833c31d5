"""Parse one agent turn into a typed result or a typed violation, for any string.

The grammar is deliberately small. A *tag* is ``<name>`` or ``</name>`` with a name
of letters, digits, ``_`` or ``-``; any other ``<`` is plain text (``x < y`` is fine).
A valid turn holds exactly one state element followed by exactly one action element,
with no protocol tag nested inside another, no unknown tag between the elements and
no reserved tag anywhere. Inside an element, tags that are not the protocol's are its
text (a shop search for ``<b>bold</b> boots`` is a query, as in WebShop). Text between
or around the elements is tolerated and ignored: models often think aloud.

:func:`parse_turn` never raises on its input. A malformed turn comes back as a
:class:`Violation` whose ``message`` is one line an environment can show the agent.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from itertools import pairwise

from envkit.protocol.tags import QA_TAGS, TagSet

__all__ = ["Action", "Turn", "Violation", "ViolationKind", "parse_answers", "parse_turn", "safe_text"]

_SURROGATE = re.compile("[\ud800-\udfff]")
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9_\-]*)\s*>")
_NUMBERED_START = re.compile(r"\s*1[.)]\s")
_NUMBERED_ITEM = re.compile(r"(?:^|(?<=[\s;]))(\d{1,4})[.)]\s+")


class ViolationKind(str, enum.Enum):
    """Why a turn is not a valid protocol turn."""

    MISSING_STATE = "missing_state"
    MULTIPLE_STATES = "multiple_states"
    MISSING_ACTION = "missing_action"
    MULTIPLE_ACTIONS = "multiple_actions"
    ACTION_BEFORE_STATE = "action_before_state"
    UNKNOWN_TAG = "unknown_tag"
    RESERVED_TAG = "reserved_tag"
    UNBALANCED_TAG = "unbalanced_tag"
    NESTED_TAG = "nested_tag"
    EMPTY_ACTION = "empty_action"
    TOO_LONG = "too_long"
    NOT_TEXT = "not_text"
    INVALID_ACTION = "invalid_action"  # a well-formed turn whose action content the env cannot read


@dataclass(frozen=True, slots=True)
class Action:
    """One action element: its tag name and stripped content."""

    name: str
    content: str


@dataclass(frozen=True, slots=True)
class Turn:
    """A valid turn: the agent's internal state and its single action."""

    state: str
    action: Action


@dataclass(frozen=True, slots=True)
class Violation:
    """A malformed turn: what kind of problem, and a one-line message naming it."""

    kind: ViolationKind
    message: str


@dataclass(frozen=True, slots=True)
class _Element:
    name: str
    content: str


def _scan(text: str, tags: TagSet) -> list[_Element] | Violation:
    known = {tags.state, *tags.actions}
    elements: list[_Element] = []
    open_name: str | None = None
    open_end = 0
    for match in _TAG.finditer(text):
        closing, name = match.group(1) == "/", match.group(2)
        if name == tags.information:
            return Violation(
                ViolationKind.RESERVED_TAG,
                f"<{name}> is written by the environment, not the agent",
            )
        if name not in known and open_name is not None:
            continue  # inside an element, other tags are its text: search[<b>bold</b> boots] is a query
        if name not in known:
            expected = ", ".join(f"<{n}>" for n in (tags.state, *tags.actions))
            return Violation(
                ViolationKind.UNKNOWN_TAG, f"unknown tag <{'/' if closing else ''}{name}> (expected {expected})"
            )
        if not closing:
            if open_name is not None:
                return Violation(ViolationKind.NESTED_TAG, f"<{name}> opened inside <{open_name}>")
            open_name, open_end = name, match.end()
            continue
        if open_name is None:
            return Violation(ViolationKind.UNBALANCED_TAG, f"</{name}> closes a tag that was never opened")
        if name != open_name:
            return Violation(ViolationKind.UNBALANCED_TAG, f"</{name}> closes <{open_name}>")
        elements.append(_Element(name, text[open_end : match.start()]))
        open_name = None
    if open_name is not None:
        return Violation(ViolationKind.UNBALANCED_TAG, f"<{open_name}> is never closed")
    return elements


def safe_text(text: str) -> str:
    """``text`` with every lone surrogate (U+D800 to U+DFFF) replaced by U+FFFD, so it encodes, counts and echoes.

    Python strings may hold surrogates no encoder accepts; a model's detokenizer or a
    fuzzer can emit them. They are not text, so they are shown as the replacement mark.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


def parse_turn(text: str, tags: TagSet = QA_TAGS) -> Turn | Violation:
    """Parse ``text`` as one agent turn under ``tags``.

    Returns a :class:`Turn` for a valid turn, otherwise a :class:`Violation`. Never
    raises for any ``str`` input.
    """
    scanned = _scan(text, tags)
    if isinstance(scanned, Violation):
        return scanned
    states = [i for i, e in enumerate(scanned) if e.name == tags.state]
    actions = [i for i, e in enumerate(scanned) if e.name != tags.state]
    if not states:
        return Violation(ViolationKind.MISSING_STATE, f"no <{tags.state}>...</{tags.state}> element")
    if len(states) > 1:
        return Violation(ViolationKind.MULTIPLE_STATES, f"{len(states)} <{tags.state}> elements, expected one")
    if not actions:
        return Violation(ViolationKind.MISSING_ACTION, f"no action element after <{tags.state}>")
    if len(actions) > 1:
        names = ", ".join(f"<{scanned[i].name}>" for i in actions)
        return Violation(ViolationKind.MULTIPLE_ACTIONS, f"{len(actions)} actions ({names}), expected exactly one")
    action = scanned[actions[0]]
    if actions[0] < states[0]:
        return Violation(ViolationKind.ACTION_BEFORE_STATE, f"<{action.name}> comes before <{tags.state}>")
    content = action.content.strip()
    if not content:
        return Violation(ViolationKind.EMPTY_ACTION, f"<{action.name}> is empty")
    return Turn(state=scanned[states[0]].content.strip(), action=Action(action.name, content))


def parse_answers(content: str) -> list[str]:
    """Split an answer element into one answer per objective, in order.

    Two forms are accepted: ``a1; a2; ...`` and the numbered ``1. a1 2. a2`` (one per
    line or inline, ``1)`` too). The numbered form is read only when the whole answer is
    one: at least two items, numbered in increasing order from 1. A lone ``1. ...`` is
    one answer read as written (``1. FC Köln`` is a club, and at N = 1 the numbered form
    has nothing to number), so ``1. FC Köln; Berlin`` is two answers, the first
    "1. FC Köln". In the numbered form, item ``k`` goes to position ``k``; a number that
    is missing leaves an empty answer in its place.
    """
    if _NUMBERED_START.match(content):
        parts = _NUMBERED_ITEM.split(content)
        # parts = [prefix, n1, text1, n2, text2, ...]
        numbers = [int(n) for n in parts[1::2]]
        answers = [a.strip().rstrip(";").strip() for a in parts[2::2]]
        increasing = all(a < b for a, b in pairwise(numbers))
        if len(numbers) >= 2 and increasing and numbers[-1] <= 4 * len(numbers) + 8:
            by_number = dict(zip(numbers, answers, strict=True))
            return [by_number.get(k, "") for k in range(1, numbers[-1] + 1)]
    return [part.strip() for part in content.split(";")]
