"""The ``tools`` protocol: actions as tool calls, read into the env's own actions; malformed calls never crash."""

import json

import gymnasium as gym
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envkit.envs import TASKS_ENV_ID
from envkit.protocol.tags import QA_TAGS
from envkit.protocol.tool_calls import (
    QA_TOOLS,
    ToolCallError,
    ToolTurn,
    as_tool_call,
    parse_tool_turn,
    tools_block,
)
from envkit.testing.conformance import assert_same_episode, oracle_turns, reference_episode
from tests.conftest import SMALL_WORLD, require


def call(name, **arguments):
    return f"<IS>notes</IS>\n<tool_call>\n{json.dumps({'name': name, 'arguments': arguments})}\n</tool_call>"


def test_a_tool_call_turn_reads_as_the_protocol_s_action():
    assert parse_tool_turn(call("search", query=" river delta "), QA_TAGS) == ToolTurn("notes", "search", "river delta")
    assert parse_tool_turn(call("answer", answers=["1975", "Paris"]), QA_TAGS) == ToolTurn(
        "notes", "answer", "1975; Paris"
    )
    # as Qwen and Hermes templates write it, text around the call is allowed
    turn = 'Let me look.\n<IS>n</IS>\n<tool_call>{"name": "search", "arguments": {"query": "x"}}</tool_call>'
    assert parse_tool_turn(turn, QA_TAGS) == ToolTurn("n", "search", "x")


@pytest.mark.parametrize(
    ("turn", "fragment"),
    [
        ('<tool_call>{"name": "search", "arguments": {"query": "x"}}</tool_call>', "<IS>...</IS>"),
        ("<IS>n</IS>", "0 <tool_call> elements"),
        (call("search", query="a") + call("search", query="b").replace("<IS>notes</IS>", ""), "2 <tool_call>"),
        ("<IS>n</IS><tool_call>{name: search}</tool_call>", "not valid JSON"),
        ('<IS>n</IS><tool_call>["search"]</tool_call>', '{"name": ..., "arguments": {...}}'),
        (call("browse", url="x"), "unknown tool 'browse'; the tools are search, answer"),
        (call("search"), 'search needs "query"'),
        (call("search", query="  "), 'search needs "query"'),
        (call("answer", answers=[]), 'answer needs "answers"'),
        (call("answer", answers=[{"a": 1}]), 'answer needs "answers"'),
    ],
)
def test_malformed_calls_say_what_is_wrong(turn, fragment):
    parsed = parse_tool_turn(turn, QA_TAGS)
    assert isinstance(parsed, ToolCallError)
    assert fragment in parsed.message


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('<>/{}[]":, IStoolcalnmeqryuwxs\\\n')), max_size=120))
def test_the_tool_parser_never_raises(text):
    assert isinstance(parse_tool_turn(text, QA_TAGS), ToolTurn | ToolCallError)


def test_the_tools_block_is_the_schemas_chat_templates_render():
    block = tools_block()
    assert block.startswith("<tools>\n") and block.endswith("\n</tools>")
    assert [json.loads(line) for line in block.splitlines()[1:-1]] == list(QA_TOOLS)


def make(protocol):
    def build():
        return gym.make(TASKS_ENV_ID, n_objectives=2, source=SMALL_WORLD, split="test", seed=0, protocol=protocol)

    return build


@pytest.mark.parametrize("task_index", [0, 4])
def test_the_oracle_s_episode_as_tool_calls_scores_as_with_tags(task_index):
    tag_turns = oracle_turns(make("envkit"), task_index)
    tool_turns = [as_tool_call(turn, QA_TAGS) for turn in tag_turns]
    assert all("<tool_call>" in turn for turn in tool_turns)
    tags = reference_episode(make("envkit"), task_index, tag_turns)
    tools = reference_episode(make("tools"), task_index, tool_turns)
    assert tools[-1].reward == tags[-1].reward == 1.0
    assert [s.done for s in tools] == [s.done for s in tags]
    assert_same_episode(tags[1:], tools[1:], "tools protocol", shown="latest")  # same results, turn by turn
    assert "<tools>" in tools[0].observation and '"name": "search"' in tools[0].observation


def test_consolidated_context_keeps_only_the_latest_tool_call_and_malformed_calls_use_a_turn():
    env = make("tools")()
    env.reset(seed=0, options={"task_index": 0})
    first = call("search", query="first unique query")
    observation, _, done, _, info = env.step(first)
    assert "first unique query" in observation and not done
    observation, reward, done, _, info = env.step("<IS>still thinking</IS><tool_call>{oops}</tool_call>")
    assert "Invalid tool call: the tool call is not valid JSON" in observation
    assert info["violation"] and not done and reward == 0
    assert "first unique query" not in observation  # consolidated: the older turn is gone
    assert info["turn"] == 2


def test_the_scripted_oracle_writes_tool_calls_where_the_env_reads_them():
    """So `envkit eval --protocol tools --policy oracle` and SFT demonstrations under `tools` are tool calls."""
    require("torch")
    from envkit.train.demonstrations import oracle_trajectories

    trajectories = oracle_trajectories(make("tools"), 3)
    assert all(t.success for t in trajectories)
    outputs = [turn.output for t in trajectories for turn in t.turns]
    assert outputs and all("<tool_call>" in output and "<search>" not in output for output in outputs)
    assert all(t.violations == 0 for t in trajectories)
