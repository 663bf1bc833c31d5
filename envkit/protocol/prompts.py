"""Task prompts: the instructions and objectives an agent sees at every turn.

The wording follows MEM1's multi-objective QA prompt, with the tag names taken from
the env's :class:`TagSet`, so changing a tag changes the instructions too.
"""

from __future__ import annotations

from collections.abc import Sequence

from composers.records import Objective
from envkit.protocol.tags import TagSet

__all__ = ["mixed_prompt", "qa_prompt", "shop_prompt"]


def _state_rules(tags: TagSet, result: str) -> str:
    """The protocol's memory rules, the same in every prompt: only the latest turn is shown again."""
    s = tags.state
    return (
        f"At every step you see these instructions, your latest internal state, your latest action "
        f"and {result}. Older steps are not shown again, so keep everything you still need in the state.\n"
        f"1. Inside <{s}> ... </{s}>, update a concise summary of what you have found so far and what remains.\n"
    )


def _numbered(lines: Sequence[str]) -> str:
    return "\n".join(f"{i}. {line}" for i, line in enumerate(lines, start=1))


def qa_prompt(objectives: Sequence[Objective], tags: TagSet, top_k: int) -> str:
    """The prompt of a multi-objective QA task."""
    info = tags.information
    search, answer = tags.actions[0], tags.actions[-1]
    n = len(objectives)
    questions = _numbered([o.question for o in objectives])
    plural = "question" if n == 1 else f"{n} questions"
    return (
        f"You will answer {plural} by searching a knowledge base, one step at a time.\n"
        + _state_rules(tags, "its result")
        + f"2. Then do exactly one of:\n"
        f"   - search: <{search}> query </{search}>; the top {top_k} passages come back inside "
        f"<{info}> ... </{info}>.\n"
        f"   - answer all questions at once: <{answer}> answer 1; answer 2; ... </{answer}>, one short answer "
        f"per question, in order, separated by ';'. Answering ends the episode.\n"
        f"Questions:\n{questions}"
    )


def shop_prompt(instructions: Sequence[str], tags: TagSet) -> str:
    """The prompt of a shopping task (one purchase per instruction, in order)."""
    action = tags.actions[-1]
    n = len(instructions)
    goals = _numbered(instructions)
    plural = "one product" if n == 1 else f"{n} products, one after the other"
    return (
        f"You are shopping in WebShop and will buy {plural}, one step at a time.\n"
        + _state_rules(tags, "the page it led to")
        + f"2. Then write one action: <{action}> search[keywords] </{action}> on the search page, or "
        f"<{action}> click[label] </{action}> with one of the page's clickables (results, options, "
        f"'description', 'buy now', ...). Choose the options the instruction asks for before buying.\n"
        f"Purchases:\n{goals}"
    )


def mixed_prompt(questions: Sequence[Objective], purchases: Sequence[str], tags: TagSet, top_k: int) -> str:
    """The prompt of a task that mixes questions to answer and products to buy."""
    info = tags.information
    search, answer, shop = tags.actions
    listed = _numbered([o.question for o in questions])
    goals = _numbered(purchases)
    return (
        f"You will answer {len(questions)} question(s) by searching a knowledge base and buy "
        f"{len(purchases)} product(s) in WebShop, one step at a time, in any order.\n"
        + _state_rules(tags, "its result")
        + f"2. Then do exactly one of:\n"
        f"   - search the knowledge base: <{search}> query </{search}>; the top {top_k} passages come back "
        f"inside <{info}> ... </{info}>.\n"
        f"   - answer all questions at once: <{answer}> answer 1; answer 2; ... </{answer}> (only once).\n"
        f"   - act in the shop: <{shop}> search[keywords] </{shop}> or <{shop}> click[label] </{shop}>; "
        f"buying a product moves on to the next purchase.\n"
        f"The episode ends when the questions are answered and every product is bought.\n"
        f"Questions:\n{listed}\nPurchases:\n{goals}"
    )
