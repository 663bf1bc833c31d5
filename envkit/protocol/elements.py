"""Well-formed ``<name>...</name>`` elements of an agent's text, found in linear time.

An agent's turn is hostile input. A lazy regular expression such as ``<x>(.*?)</x>``,
tried at each of 20,000 unclosed ``<x>`` tags, rescans the rest of the text from every
one of them: quadratic time (a 200 KB turn did not return in 30 s). The scans here find
each opening tag once and look for its closing tag once, so a turn costs time in
proportion to its length, and they return what those expressions return: elements do
not nest, the leftmost well-formed one comes first, and an unclosed tag is text.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["element_contents", "first_element", "first_of", "without_elements"]


def first_element(text: str, name: str, start: int = 0) -> tuple[int, int, str] | None:
    """``(begin, end, content)`` of the first ``<name>...</name>`` at or after ``start``; ``None`` if none closes.

    If the first opening tag has no closing tag after it, no later one can have either,
    so one search for each is enough.
    """
    opening, closing = f"<{name}>", f"</{name}>"
    begin = text.find(opening, start)
    if begin < 0:
        return None
    inner = begin + len(opening)
    close = text.find(closing, inner)
    if close < 0:
        return None
    return begin, close + len(closing), text[inner:close]


def element_contents(text: str, name: str) -> list[str]:
    """The content of every non-overlapping ``<name>...</name>``, left to right (``re.findall``'s answer)."""
    contents: list[str] = []
    position = 0
    while (found := first_element(text, name, position)) is not None:
        _, position, content = found
        contents.append(content)
    return contents


def without_elements(text: str, name: str) -> str:
    """``text`` with every well-formed ``<name>...</name>`` removed (``re.sub(pattern, "")``'s answer)."""
    pieces: list[str] = []
    position = 0
    while (found := first_element(text, name, position)) is not None:
        begin, end, _ = found
        pieces.append(text[position:begin])
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def first_of(text: str, names: Sequence[str]) -> tuple[str, str] | None:
    """``(name, content)`` of the leftmost well-formed element among ``names``; ``None`` if there is none."""
    best: tuple[int, str, str] | None = None
    for name in names:
        found = first_element(text, name)
        if found is not None and (best is None or found[0] < best[0]):
            best = (found[0], name, found[2])
    return None if best is None else (best[1], best[2])
