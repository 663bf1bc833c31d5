r"""MEM1's protocol as its released code plays it, as text: prompt, turn reading, observation, kept context.

MEM1's paper names the internal state ``<IS>``; its code (``Mem1/train/rollout/llm_agent/
generation_think.py`` and the ``qa_search_*_merge_multi.py`` data scripts) writes it
``<think>`` and reads a turn more loosely than envkit's default protocol:

- the response is cut after its first ``</answer>`` when it has one, else after its first
  ``</search>`` (what generation stopping at those tags leaves);
- the action is the first ``<search>…</search>`` or ``<answer>…</answer>`` element, whatever
  else the turn holds, and no state element is required; a turn with no action ends the
  episode with reward 0;
- a search result comes back inside the assistant's own turn as
  ``\n\n<information>[HINT]…[/HINT]\n\n{passages}</information>\n\n``;
- the next context is the prompt, the last response from its first ``<think>`` on, and the
  last observation.

These functions are the text side of that protocol; :class:`~envkit.envs.mem1.Mem1Turns`
plays it in an env. Tests check them against MEM1's own code and prompt.
"""

from __future__ import annotations

from collections.abc import Sequence

from envkit.protocol.elements import first_element, first_of
from envkit.protocol.parser import Action
from envkit.protocol.tags import TagSet

__all__ = ["MEM1_TAGS", "mem1_action", "mem1_information", "mem1_kept", "mem1_prompt", "mem1_response", "mem1_state"]

MEM1_TAGS = TagSet(state="think", actions=("search", "answer"))
"""MEM1's tags: ``<think>`` state, ``<search>`` and ``<answer>`` actions, ``<information>`` results."""

_PROMPT = """You will answer multiple complex questions using iterative reasoning, summarization, and web search.

At each step, you will see the questions, a cumulative summary of relevant information, the current search query, \
and search results (except in the first step, where only the questions are provided). Your task is to:

1. Perform reasoning and update a cumulative, concise summary within <think> ... </think>. This acts as persistent \
memory and must include all essential information from previous <think> and <information> tags.

2. Then choose one of the following actions:
   - If any question remains unanswered, issue a single query for one question inside <search> ... </search>. \
The query should consist of keywords or a short phrase. Only search one question at a time.
   - If all questions are answered, provide the final answers\u2014separated by semicolons\u2014within \
<answer> answer1; answer2; ... </answer>. The answers must be concise, contain only essential words, and avoid any \
explanations.

Important:
- Always follow this structure after <information> or the initial questions: <think> ... </think><search> ... \
</search> or <think> ... </think><answer> ... </answer>.
- Do not search multiple queries or questions simultaneously.

Answer the following questions: {questions}
"""


def mem1_prompt(questions: Sequence[str]) -> str:
    """MEM1's multi-question prompt: each question ending in ``?``, joined by ``"; "``."""
    asked = [q if q.endswith("?") else f"{q}?" for q in questions]
    return _PROMPT.format(questions="; ".join(asked))


def mem1_response(text: str, tags: TagSet = MEM1_TAGS) -> str:
    """The response as MEM1 keeps it: cut after the first ``</answer>``, else after the first ``</search>``."""
    search, answer = tags.actions
    for name in (answer, search):
        closing = f"</{name}>"
        if closing in text:
            return text.split(closing, 1)[0] + closing
    return text


def mem1_action(text: str, tags: TagSet = MEM1_TAGS) -> Action | None:
    """The first search or answer element of ``text`` (its content stripped), or ``None``."""
    found = first_of(text, tags.actions)
    return None if found is None else Action(found[0], found[1].strip())


def mem1_state(text: str, tags: TagSet = MEM1_TAGS) -> str:
    """The content of the first state element (``<think>``), stripped; empty when there is none."""
    found = first_element(text, tags.state)
    return "" if found is None else found[2].strip()


def mem1_kept(response: str, tags: TagSet = MEM1_TAGS) -> str:
    """What the next context keeps of a response: from its first ``<think>`` on (all of it without one)."""
    start = response.find(f"<{tags.state}>")
    return response if start < 0 else response[start:]


def mem1_information(results: str, hint: str = "", tags: TagSet = MEM1_TAGS) -> str:
    """An observation inside the assistant's turn, exactly as MEM1's training rollout writes it."""
    return f"\n\n<{tags.information}>{hint}\n\n{results.strip()}</{tags.information}>\n\n"
