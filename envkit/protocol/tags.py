"""Tag names of the consolidated-state protocol.

An agent turn is ``<IS> ... </IS>`` followed by exactly one action element. The
state tag and the action tags are configurable (MEM1's own code writes ``<think>``
for the state); an env declares the action tags it understands. The information
tag is reserved for the environment: an agent that writes it is hallucinating an
observation, which the parser reports as a violation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TAG_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_\-]*\Z")

__all__ = ["QA_TAGS", "SHOP_TAGS", "TagSet"]


@dataclass(frozen=True, slots=True)
class TagSet:
    """The tag vocabulary of one environment.

    Attributes:
        state: the internal-state tag (``IS`` by default, ``think`` in MEM1's code).
        actions: the action tags the env understands, e.g. ``("search", "answer")``.
        information: the tag the env wraps its observations in; agents may not write it.

    """

    state: str = "IS"
    actions: tuple[str, ...] = ("search", "answer")
    information: str = "information"

    def __post_init__(self) -> None:
        names = (self.state, *self.actions, self.information)
        for name in names:
            if not _TAG_NAME.match(name):
                raise ValueError(f"invalid tag name {name!r}: use letters, digits, '_' or '-'")
        if not self.actions:
            raise ValueError("a TagSet needs at least one action tag")
        if len(set(names)) != len(names):
            raise ValueError(f"tag names must be distinct, got {names}")

    def wrap(self, name: str, content: str) -> str:
        """Return ``<name>content</name>``."""
        return f"<{name}>{content}</{name}>"

    def information_block(self, content: str) -> str:
        """Wrap an environment observation in the information tag."""
        return self.wrap(self.information, content)

    def format_turn(self, state: str, action: str, content: str) -> str:
        """Render a well-formed agent turn (the inverse of :func:`parse_turn`)."""
        if action not in self.actions:
            raise ValueError(f"unknown action {action!r}; this TagSet allows {self.actions}")
        return f"{self.wrap(self.state, state)}\n{self.wrap(action, content)}"

    def describe(self) -> str:
        """One line telling an agent what a valid turn looks like."""
        options = " or ".join(f"<{a}>...</{a}>" for a in self.actions)
        return f"write <{self.state}>...</{self.state}> followed by exactly one of {options}"


QA_TAGS = TagSet()
SHOP_TAGS = TagSet(actions=("action",))
"""The shop's tags: ``<IS>...</IS><action>search[...]</action>`` or ``<action>click[...]</action>``."""
