"""Task prompts: the instructions and objectives an agent sees at every turn.

The wording follows MEM1's multi-objective QA prompt, with the tag names taken from
the env's :class:`TagSet`, so changing a tag changes the instructions too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from composers.records import Objective
from envkit.protocol.tags import TagSet

__all__ = ["PromptSection", "composite_prompt", "numbered", "qa_prompt", "shop_prompt", "state_rules"]


@dataclass(frozen=True, slots=True)
class PromptSection:
    """How one kind's objectives are presented inside a composite task's prompt.

    Attributes:
        goal: what the agent will do, as a clause ("answer 2 question(s) by searching a knowledge base").
        actions: one line per action the kind allows, describing its tag.
        heading: the heading of the objectives' list ("Questions").
        items: the objectives, in order (numbered by the prompt).
        opening: what the env shows before the first turn besides the prompt (a shop's first page).

    """

    goal: str
    actions: tuple[str, ...]
    heading: str
    items: tuple[str, ...]
    opening: str = ""


def state_rules(tags: TagSet, result: str) -> str:
    """The protocol's memory rules, the same in every prompt: only the latest turn is shown again."""
    s = tags.state
    return (
        f"At every step you see these instructions, your latest internal state, your latest action "
        f"and {result}. Older steps are not shown again, so keep everything you still need in the state.\n"
        f"1. Inside <{s}> ... </{s}>, update a concise summary of what you have found so far and what remains.\n"
    )


def numbered(lines: Sequence[str]) -> str:
    return "\n".join(f"{i}. {line}" for i, line in enumerate(lines, start=1))


def qa_prompt(objectives: Sequence[Objective], tags: TagSet, top_k: int) -> str:
    """The prompt of a multi-objective QA task."""
    info = tags.information
    search, answer = tags.actions[0], tags.actions[-1]
    n = len(objectives)
    questions = numbered([o.question for o in objectives])
    plural = "question" if n == 1 else f"{n} questions"
    return (
        f"You will answer {plural} by searching a knowledge base, one step at a time.\n"
        + state_rules(tags, "its result")
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
    goals = numbered(instructions)
    plural = "one product" if n == 1 else f"{n} products, one after the other"
    return (
        f"You are shopping in WebShop and will buy {plural}, one step at a time.\n"
        + state_rules(tags, "the page it led to")
        + f"2. Then write one action: <{action}> search[keywords] </{action}> on the search page, or "
        f"<{action}> click[label] </{action}> with one of the page's clickables (results, options, "
        f"'description', 'buy now', ...). Choose the options the instruction asks for before buying.\n"
        f"Purchases:\n{goals}"
    )


def composite_prompt(sections: Sequence[PromptSection], tags: TagSet) -> str:
    """The prompt of a task that mixes objectives of several kinds, one section per kind."""
    goals = [section.goal for section in sections]
    together = goals[0] if len(goals) == 1 else f"{', '.join(goals[:-1])} and {goals[-1]}"
    actions = "".join(f"   - {line}\n" for section in sections for line in section.actions)
    listings = "\n".join(f"{section.heading}:\n{numbered(section.items)}" for section in sections)
    return (
        f"You will {together}, one step at a time, in any order.\n"
        + state_rules(tags, "its result")
        + f"2. Then do exactly one of:\n{actions}"
        f"The episode ends when every objective below is done.\n{listings}"
    )
