"""Hostile turns under every protocol, context builder and objective kind: never an exception, never a long step.

Families found by a fuzz of 302,087 turns and by hand: deeply nested JSON in a tool call
(``RecursionError``), an integer past Python's 4,300-digit conversion limit
(``ValueError``), tens of thousands of unclosed opening tags (lazy patterns scanned them
in quadratic time: a 200 KB turn under ``tools``, ``mem1``, ``fold`` or ``summary(k)``
did not return in 30 s), megabyte turns and lone surrogates. Every step must return an
observation inside the env's space within ``STEP_BOUND_S`` (a hang guard; measured steps
take milliseconds).
"""

from __future__ import annotations

import re
import sys
import time

import gymnasium as gym
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envkit.envs import COMPOSITE_ENV_ID, TASKS_ENV_ID
from envkit.protocol.elements import element_contents, first_element, first_of, without_elements

STEP_BOUND_S = 5.0
WORLD = "synthetic:passages=300,seed=0"
SHOP = "shop:products=60,seed=1"
PROTOCOLS = ("envkit", "tools", "mem1")
BUILDERS = ("consolidated", "full", "window(2)", "summary(3)", "fold")
KINDS = ("qa", "shop", "reasoning", "composite")
TAG_NAMES = ("IS", "think", "search", "answer", "action", "solve", "tool_call", "branch", "return", "summary")


def hostile_turns():
    depth = sys.getrecursionlimit() + 1000
    deep = "[" * depth + "]" * depth
    yield "deep JSON", f"<IS>x</IS><tool_call>{deep}</tool_call>"
    yield (
        "deep JSON object",
        '<IS>x</IS><tool_call>{"name": "search", "arguments": '
        + '{"a":' * depth
        + "1"
        + "}" * (depth + 1)
        + "</tool_call>",
    )
    yield (
        "huge integer",
        '<IS>x</IS><tool_call>{"name": "search", "arguments": {"query": ' + "9" * 4301 + "}}</tool_call>",
    )
    yield (
        "huge answer list",
        '<IS>x</IS><tool_call>{"name": "answer", "arguments": {"answers": ['
        + ",".join(["1e308"] * 2000)
        + "]}}</tool_call>",
    )
    for name in TAG_NAMES:
        yield f"20,000 <{name}>", f"<{name}>" * 20_000
        yield f"<{name}> under the limit", "<IS>x</IS>" + f"<{name}>" * (15_000 // (len(name) + 2))
    yield "megabyte", "<IS>" + "x" * 1_000_000 + "</IS><search>q</search>"
    yield "lone surrogates", "<IS>\ud800</IS><search>\udfff</search>"
    yield "NUL bytes", "\x00" * 20_000
    yield "not text", 12345


def make(protocol, builder, kind, tmp_path, monkeypatch):
    monkeypatch.setenv("ENVKIT_CACHE", str(tmp_path))
    options = {"protocol": protocol, "context": builder}
    if kind == "qa":
        return gym.make(TASKS_ENV_ID, source=WORLD, n_objectives=2, **options)
    if kind == "shop":
        return gym.make(TASKS_ENV_ID, source=SHOP, n_objectives=1, **options)
    if kind == "reasoning":
        pytest.importorskip("reasoning_gym")
        return gym.make(TASKS_ENV_ID, source="reasoning_gym:chain_sum", n_objectives=2, **options)
    return gym.make(COMPOSITE_ENV_ID, source=WORLD, shop=SHOP, n_questions=1, **options)


def play_hostile_turns(env):
    for family, turn in hostile_turns():
        env.reset(seed=0)
        started = time.monotonic()
        observation, reward, _, _, info = env.step(turn)
        took = time.monotonic() - started
        assert took < STEP_BOUND_S, f"{family}: {took:.1f} s"
        assert env.observation_space.contains(observation), family
        assert isinstance(reward, float) and isinstance(info, dict), family


COMBINATIONS = [(p, b, k) for p in PROTOCOLS for b in BUILDERS for k in KINDS if p != "mem1" or k == "qa"]


@pytest.mark.parametrize(("protocol", "builder", "kind"), COMBINATIONS)
def test_no_hostile_turn_raises_or_holds_a_step(protocol, builder, kind, tmp_path, monkeypatch):
    env = make(protocol, builder, kind, tmp_path, monkeypatch)
    try:
        play_hostile_turns(env)
    finally:
        env.close()


def test_an_over_long_turn_is_refused_before_any_wrapper_reads_it(tmp_path, monkeypatch):
    for protocol, builder in (("tools", "consolidated"), ("mem1", "consolidated"), ("envkit", "fold")):
        env = make(protocol, builder, "qa", tmp_path, monkeypatch)
        env.reset(seed=0)
        *_, info = env.step("<branch>" * 20_000)
        assert info["violation"] == "too_long", (protocol, builder)


def test_a_malformed_tool_call_says_what_was_wrong():
    from envkit.kinds.registry import action_tools
    from envkit.protocol.tags import QA_TAGS
    from envkit.protocol.tool_calls import ToolCallError, parse_tool_turn

    tools = action_tools(QA_TAGS.actions)
    depth = sys.getrecursionlimit() + 1000  # deeper than the decoder may recurse (an import may raise the limit)
    deep = parse_tool_turn("<IS>x</IS><tool_call>" + "[" * depth + "]" * depth + "</tool_call>", QA_TAGS, tools)
    assert isinstance(deep, ToolCallError) and "nests too deeply" in deep.message
    huge = '<IS>x</IS><tool_call>{"name": "search", "arguments": {"query": ' + "9" * 4301 + "}}</tool_call>"
    assert "cannot be read" in parse_tool_turn(huge, QA_TAGS, tools).message


_PIECES = st.sampled_from(["<a>", "</a>", "<b>", "</b>", "x", " ", "<", ">", "/", "a", "<a", "</"])


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES, max_size=40).map("".join))
def test_the_linear_scans_answer_what_the_regular_expressions_did(text):
    pattern = re.compile(r"<a>(.*?)</a>", re.DOTALL)
    match = pattern.search(text)
    first = first_element(text, "a")
    assert (first[2] if first else None) == (match.group(1) if match else None)
    assert element_contents(text, "a") == pattern.findall(text)
    assert without_elements(text, "a") == pattern.sub("", text)
    either = re.search(r"<(a|b)>(.*?)</\1>", text, re.DOTALL)
    assert first_of(text, ("a", "b")) == ((either.group(1), either.group(2)) if either else None)
