"""Tool-call actions: an agent turn whose action is a function call, for models trained to call tools.

Tool-calling models (Qwen2.5/3, Hermes-style chat templates, and the format TRL's tool
parser reads) write an action as ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>``.
Under the ``tools`` protocol a turn is the internal state, then exactly one call:

    <IS>what I know and what is left</IS>
    <tool_call>{"name": "search", "arguments": {"query": "Bremnailler Letters"}}</tool_call>

The QA tools are ``search(query)`` and ``answer(answers)`` (one answer per question, in
order). :func:`parse_tool_turn` maps a turn to the protocol's own state and action, so the
env, its scoring and every context builder work unchanged (consolidated training for
tool-calling models); like :func:`~envkit.protocol.parser.parse_turn` it never raises: a
malformed turn is a :class:`ToolCallError` saying what was wrong, which the agent is shown.
:func:`tools_block` describes the tools in the ``<tools>`` JSON block those chat
templates render, and :func:`as_tool_call` writes a tag turn as a tool call (scripted
agents, tests).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from envkit.protocol.parser import Turn, parse_answers, parse_turn
from envkit.protocol.tags import TagSet

__all__ = [
    "ACTION_FORMAT_TOOL_CALL",
    "QA_TOOLS",
    "ToolCallError",
    "ToolTurn",
    "as_tool_call",
    "parse_tool_turn",
    "tools_block",
    "tools_prompt",
]

ACTION_FORMAT_TOOL_CALL = "tool_call"
"""``info["action_format"]`` of an env that reads tool calls (scripted agents write them there)."""

_CALL = re.compile(r"<tool_call>(.*?)</tool_call>", re.DOTALL)

QA_TOOLS: tuple[dict[str, Any], ...] = (
    {
        "type": "function",
        "function": {
            "name": "search",
            "description": "Search the knowledge base; the top passages come back inside <information>.",
            "parameters": {
                "type": "object",
                "properties": {"query": {"type": "string", "description": "What to look for."}},
                "required": ["query"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "answer",
            "description": "Answer every question at once, in order; this ends the episode.",
            "parameters": {
                "type": "object",
                "properties": {
                    "answers": {
                        "type": "array",
                        "items": {"type": "string"},
                        "description": "One short answer per question, in the order asked.",
                    }
                },
                "required": ["answers"],
            },
        },
    },
)


@dataclass(frozen=True, slots=True)
class ToolTurn:
    """A valid tool-call turn: the state, and the call as the protocol's action (name and content)."""

    state: str
    action: str
    content: str


@dataclass(frozen=True, slots=True)
class ToolCallError:
    """Why a turn is not a valid tool-call turn (shown to the agent)."""

    message: str
    state: str = ""


def tools_block(tools: tuple[dict[str, Any], ...] = QA_TOOLS) -> str:
    """The tools as the ``<tools>`` block Hermes-style chat templates render (one JSON schema per line)."""
    lines = "\n".join(json.dumps(tool) for tool in tools)
    return f"<tools>\n{lines}\n</tools>"


def _state(text: str, tags: TagSet) -> str | None:
    found = re.findall(rf"<{tags.state}>(.*?)</{tags.state}>", text, re.DOTALL)
    return found[0].strip() if len(found) == 1 else None


def _arguments(name: str, arguments: dict[str, Any]) -> str | ToolCallError:
    """The action's content from a call's arguments, or what is wrong with them."""
    if name == "search":
        query = arguments.get("query")
        if not isinstance(query, str) or not query.strip():
            return ToolCallError('search needs "query": a non-empty string')
        return query.strip()
    answers = arguments.get("answers")
    if isinstance(answers, str):
        answers = [answers]
    if not isinstance(answers, list) or not answers or not all(isinstance(a, str | int | float) for a in answers):
        return ToolCallError('answer needs "answers": a list of strings, one per question')
    return "; ".join(str(a).strip() for a in answers)


def parse_tool_turn(text: str, tags: TagSet) -> ToolTurn | ToolCallError:
    """Read a turn as ``<state>...</state>`` plus one tool call; never raises."""
    text = text if isinstance(text, str) else ""
    state = _state(text, tags)
    if state is None:
        return ToolCallError(f"write exactly one <{tags.state}>...</{tags.state}> element before the tool call")
    calls = _CALL.findall(text)
    if len(calls) != 1:
        return ToolCallError(f"{len(calls)} <tool_call> elements, expected exactly one", state)
    try:
        call = json.loads(calls[0])
    except json.JSONDecodeError as error:
        return ToolCallError(f"the tool call is not valid JSON ({error.msg} at character {error.pos})", state)
    if not isinstance(call, dict) or not isinstance(call.get("arguments", {}), dict):
        return ToolCallError('a tool call is {"name": ..., "arguments": {...}}', state)
    name = str(call.get("name"))
    known = [tool["function"]["name"] for tool in QA_TOOLS if tool["function"]["name"] in tags.actions]
    if name not in known:
        return ToolCallError(f"unknown tool {name!r}; the tools are {', '.join(known)}", state)
    content = _arguments(name, call.get("arguments") or {})
    if isinstance(content, ToolCallError):
        return ToolCallError(content.message, state)
    return ToolTurn(state, name, content)


def as_tool_call(turn: str, tags: TagSet) -> str:
    """A well-formed tag turn written as a tool-call turn (a malformed one is returned unchanged)."""
    parsed = parse_turn(turn, tags)
    if not isinstance(parsed, Turn):
        return turn
    name, content = parsed.action.name, parsed.action.content
    arguments = {"query": content} if name == "search" else {"answers": parse_answers(content)}
    call = json.dumps({"name": name, "arguments": arguments})
    return f"{tags.wrap(tags.state, parsed.state)}\n<tool_call>\n{call}\n</tool_call>"


def tools_prompt(questions: list[str], tags: TagSet, passages: int = 3) -> str:
    """The task prompt of the ``tools`` protocol: how a turn looks, the tools, then the questions."""
    state = tags.state
    listed = "\n".join(f"{i}. {q}" for i, q in enumerate(questions, 1))
    return (
        f"You will answer {len(questions)} questions by calling tools, one call per step.\n"
        "At every step you see these instructions, your latest internal state, your latest tool call and its "
        "result. Older steps are not shown again, so keep everything you still need in the state.\n"
        f"1. Inside <{state}> ... </{state}>, update a concise summary of what you have found so far and what "
        "remains.\n"
        '2. Then call exactly one tool: <tool_call>{"name": <tool name>, "arguments": <arguments>}</tool_call>. '
        f"A search returns the top {passages} passages inside <{tags.information}> ... </{tags.information}>; "
        "answering ends the episode.\n"
        f"You may call these tools:\n{tools_block()}\n"
        f"Questions:\n{listed}"
    )
