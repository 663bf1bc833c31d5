"""What a shop page shows, independent of how it is shown.

A :class:`Page` is the instruction plus an ordered list of segments: text, clickable
labels and (on the search page) the search box. Text mode renders it straight to the
observation; the server renders it to HTML with one element per segment; browser mode
reads those elements back from Chromium's DOM and renders the same observation, so
both modes share one observation format by construction (and a test checks it).

The observation follows WebShop's text mode: segments joined by ``[SEP]``, then the
actions the page allows, e.g. ``click[next >]`` (labels compare case-insensitively).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "BACK",
    "BUTTONS",
    "BUY",
    "DETAILS",
    "NEXT",
    "PREV",
    "Click",
    "Page",
    "Search",
    "Segment",
    "ShopAction",
    "clean_text",
    "parse_shop_action",
]

SEP = " [SEP] "
_ACTION = re.compile(r"\s*(search|click)\s*\[(.*)\]\s*\Z", re.IGNORECASE | re.DOTALL)


_UNRENDERED = dict.fromkeys(range(32), " ")  # C0 controls: an HTML parser drops NUL and shows none of them
_UNRENDERED[0] = ""


def clean_text(text: str) -> str:
    """Whitespace squeezed to single spaces and control characters gone: what a browser's ``innerText`` shows."""
    return " ".join(text.translate(_UNRENDERED).split())


BACK, PREV, NEXT, BUY = "Back to Search", "< Prev", "Next >", "Buy Now"
DETAILS = ("Description", "Features", "Reviews")
BUTTONS = frozenset({BACK, PREV, NEXT, BUY, *DETAILS})
"""The labels of the pages' buttons, WebShop's."""


@dataclass(frozen=True, slots=True)
class Segment:
    """One piece of a page: ``kind`` is ``text``, ``click`` or ``search`` (the search box)."""

    kind: str
    text: str


@dataclass(frozen=True, slots=True)
class Page:
    """A rendered shop page: ``kind`` is ``search``, ``results``, ``item``, ``detail`` or ``done``."""

    kind: str
    instruction: str
    segments: tuple[Segment, ...]
    score: float | None = None

    @property
    def clickables(self) -> list[str]:
        return [s.text for s in self.segments if s.kind == "click"]

    @property
    def has_search(self) -> bool:
        return any(s.kind == "search" for s in self.segments)

    def find(self, label: str) -> str | None:
        """The clickable whose label matches ``label`` (case-insensitive), as shown.

        A button wins over an option or a result of the same name, as in WebShop, whose
        text env checks its buttons first: an option value ``buy now`` does not shadow
        the ``Buy Now`` button.
        """
        wanted = clean_text(label).lower()
        matches = [s.text for s in self.segments if s.kind == "click" and s.text.lower() == wanted]
        return next((m for m in matches if m in BUTTONS), matches[0] if matches else None)

    def refusal(self, action: ShopAction) -> str | None:
        """Why ``action`` is not possible on this page, or ``None`` when it is."""
        if self.kind == "done":
            return "the purchase is done: no more actions on this page"
        if isinstance(action, Search):
            return None if self.has_search else "search[...] works on the search page only: click[back to search] first"
        if self.find(action.label) is None:
            return f"click[{action.label.lower()}] is not on this page"
        return None

    def available_actions(self) -> list[str]:
        actions = ["search[<query>]"] if self.has_search else []
        return actions + [f"click[{label.lower()}]" for label in self.clickables]

    def observation(self) -> str:
        """The page as text: ``Instruction: [SEP] ... [SEP] segments``, then the allowed actions."""
        shown = [s.text for s in self.segments if s.kind != "search"]
        body = SEP.join(["Instruction:", self.instruction, *shown])
        actions = self.available_actions()
        return f"{body}\nAvailable actions: {' | '.join(actions) if actions else 'none'}"


@dataclass(frozen=True, slots=True)
class Search:
    query: str


@dataclass(frozen=True, slots=True)
class Click:
    label: str


ShopAction = Search | Click


def parse_shop_action(text: str) -> ShopAction | str:
    """``search[query]`` or ``click[label]``; anything else comes back as a one-line error."""
    match = _ACTION.match(text)
    if match is None:
        shown = clean_text(text)[:80]
        return f"{shown!r} is not an action: write search[query] or click[label]"
    verb, argument = match.group(1).lower(), clean_text(match.group(2))
    if not argument:
        return f"{verb}[] is empty"
    return Search(argument) if verb == "search" else Click(argument)
