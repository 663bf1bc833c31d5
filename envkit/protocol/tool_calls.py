"""Tool-call actions: an agent turn whose action is a function call, for models trained to call tools.

Tool-calling models (Qwen2.5/3, Hermes-style chat templates, and the format TRL's tool
parser reads) write an action as ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>``.
Under the ``tools`` protocol a turn is the internal state, then exactly one call:

    <IS>what I know and what is left</IS>
    <tool_call>{"name": "search", "arguments": {"query": "Bremnailler Letters"}}</tool_call>

Each objective kind declares its actions as tools (:class:`ToolSpec`, next to its action
tags: QA's ``search(query)`` and ``answer(answers)``, the shop's ``action(command)``,
reasoning's ``solve(answer)``), so every kind, and every mix of kinds, can be played by
tool calls. :func:`parse_tool_turn` maps a turn to the protocol's own state and action,
so the env, its scoring and every context builder work unchanged (consolidated training
for tool-calling models); like :func:`~envkit.protocol.parser.parse_turn` it never
raises: a malformed turn is a :class:`ToolCallError` saying what was wrong, which the
agent is shown. :func:`tools_block` describes the tools in the ``<tools>`` JSON block
those chat templates render, :func:`tools_prompt` writes a task's prompt around it, and
:func:`as_tool_call` writes a tag turn as a tool call (scripted agents, tests).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from envkit.protocol.elements import element_contents
from envkit.protocol.parser import Turn, parse_answers, parse_turn
from envkit.protocol.prompts import PromptSection, numbered, state_rules
from envkit.protocol.tags import TagSet

__all__ = [
    "ACTION_FORMAT_TOOL_CALL",
    "ToolCallError",
    "ToolSpec",
    "ToolTurn",
    "as_tool_call",
    "parse_tool_turn",
    "tools_block",
    "tools_prompt",
]

ACTION_FORMAT_TOOL_CALL = "tool_call"
"""``info["action_format"]`` of an env that reads tool calls (scripted agents write them there)."""


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """One action as a function: named as its action tag, with one argument that carries the action's content.

    ``many`` makes the argument a list of strings, joined with ``"; "`` into the content
    (QA's answers, one per question).
    """

    name: str
    description: str
    argument: str
    argument_description: str
    many: bool = False

    def schema(self) -> dict[str, Any]:
        """The JSON schema chat templates render for the tool (OpenAI's function format)."""
        kind: dict[str, Any] = {"type": "array", "items": {"type": "string"}} if self.many else {"type": "string"}
        argument = {**kind, "description": self.argument_description}
        parameters = {"type": "object", "properties": {self.argument: argument}, "required": [self.argument]}
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": parameters},
        }

    def content(self, arguments: dict[str, Any]) -> str | ToolCallError:
        """The action's content from a call's arguments, or what is wrong with them."""
        value = arguments.get(self.argument)
        if not self.many:
            if not isinstance(value, str) or not value.strip():
                return ToolCallError(f'{self.name} needs "{self.argument}": a non-empty string')
            return value.strip()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value or not all(isinstance(v, str | int | float) for v in value):
            return ToolCallError(f'{self.name} needs "{self.argument}": a list of strings')
        return "; ".join(str(v).strip() for v in value)

    def arguments(self, content: str) -> dict[str, Any]:
        """The call's arguments for an action's content (the inverse of :meth:`content`)."""
        return {self.argument: parse_answers(content) if self.many else content}


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


def tools_block(tools: Sequence[ToolSpec]) -> str:
    """The tools as the ``<tools>`` block Hermes-style chat templates render (one JSON schema per line)."""
    lines = "\n".join(json.dumps(tool.schema()) for tool in tools)
    return f"<tools>\n{lines}\n</tools>"


def _state(text: str, tags: TagSet) -> str | None:
    found = element_contents(text, tags.state)
    return found[0].strip() if len(found) == 1 else None


def parse_tool_turn(text: str, tags: TagSet, tools: Sequence[ToolSpec]) -> ToolTurn | ToolCallError:
    """Read a turn as ``<state>...</state>`` plus one call of one of ``tools``; never raises."""
    text = text if isinstance(text, str) else ""
    state = _state(text, tags)
    if state is None:
        return ToolCallError(f"write exactly one <{tags.state}>...</{tags.state}> element before the tool call")
    calls = element_contents(text, "tool_call")
    if len(calls) != 1:
        return ToolCallError(f"{len(calls)} <tool_call> elements, expected exactly one", state)
    try:
        call = json.loads(calls[0])
    except json.JSONDecodeError as error:
        return ToolCallError(f"the tool call is not valid JSON ({error.msg} at character {error.pos})", state)
    except RecursionError:  # [[[[...]]]] deeper than the decoder recurses
        return ToolCallError("the tool call nests too deeply to read", state)
    except ValueError as error:  # an integer past Python's conversion limit (4,300 digits)
        return ToolCallError(f"the tool call holds a value that cannot be read ({str(error)[:80]})", state)
    if not isinstance(call, dict) or not isinstance(call.get("arguments", {}), dict):
        return ToolCallError('a tool call is {"name": ..., "arguments": {...}}', state)
    name = str(call.get("name"))
    known = {tool.name: tool for tool in tools if tool.name in tags.actions}
    if name not in known:
        return ToolCallError(f"unknown tool {name!r}; the tools are {', '.join(known)}", state)
    content = known[name].content(call.get("arguments") or {})
    if isinstance(content, ToolCallError):
        return ToolCallError(content.message, state)
    return ToolTurn(state, name, content)


def as_tool_call(turn: str, tags: TagSet, tools: Sequence[ToolSpec]) -> str:
    """A well-formed tag turn written as a call of its action's tool (anything else is returned unchanged)."""
    parsed = parse_turn(turn, tags)
    tool = next((t for t in tools if isinstance(parsed, Turn) and t.name == parsed.action.name), None)
    if not isinstance(parsed, Turn) or tool is None:
        return turn
    call = json.dumps({"name": tool.name, "arguments": tool.arguments(parsed.action.content)})
    return f"{tags.wrap(tags.state, parsed.state)}\n<tool_call>\n{call}\n</tool_call>"


def tools_prompt(sections: Sequence[PromptSection], tags: TagSet, tools: Sequence[ToolSpec]) -> str:
    """The task prompt of the ``tools`` protocol: the goals, how a turn looks, the tools, the objectives.

    ``sections`` are the kinds' own parts of the prompt (what :func:`composite_prompt`
    lists); their tag-writing instructions are replaced by the tools, and a part's opening
    (a shop's first page) follows the objectives as in every other prompt.
    """
    goals = [section.goal for section in sections]
    together = goals[0] if len(goals) == 1 else f"{', '.join(goals[:-1])} and {goals[-1]}"
    order = ", in any order" if len(sections) > 1 else ""
    listings = "\n".join(f"{section.heading}:\n{numbered(section.items)}" for section in sections)
    openings = "".join(f"\n{section.opening}" for section in sections if section.opening)
    return (
        f"You will {together}, calling one tool per step{order}.\n"
        + state_rules(tags, "its result")
        + '2. Then call exactly one tool: <tool_call>{"name": <tool name>, "arguments": <arguments>}</tool_call>.\n'
        + f"You may call these tools:\n{tools_block(tools)}\n"
        + listings
        + openings
    )
