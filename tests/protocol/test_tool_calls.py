"""The ``tools`` protocol: actions as tool calls, read into the env's own actions; malformed calls never crash."""

import json

import gymnasium as gym
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envkit.envs import TASKS_ENV_ID
from envkit.kinds import KindError, get_kind
from envkit.kinds.registry import action_tools
from envkit.protocol.tags import QA_TAGS
from envkit.protocol.tool_calls import ToolCallError, ToolTurn, as_tool_call, parse_tool_turn, tools_block
from envkit.testing.conformance import assert_same_episode, oracle_turns, reference_episode
from tests.conftest import SMALL_WORLD, require

QA_TOOLS = get_kind("qa").tools
SHOP = "shop:products=200,seed=1"


def call(name, **arguments):
    return f"<IS>notes</IS>\n<tool_call>\n{json.dumps({'name': name, 'arguments': arguments})}\n</tool_call>"


def parse(turn):
    return parse_tool_turn(turn, QA_TAGS, QA_TOOLS)


def test_a_tool_call_turn_reads_as_the_protocol_s_action():
    assert parse(call("search", query=" river delta ")) == ToolTurn("notes", "search", "river delta")
    assert parse(call("answer", answers=["1975", "Paris"])) == ToolTurn("notes", "answer", "1975; Paris")
    # as Qwen and Hermes templates write it, text around the call is allowed
    turn = 'Let me look.\n<IS>n</IS>\n<tool_call>{"name": "search", "arguments": {"query": "x"}}</tool_call>'
    assert parse(turn) == ToolTurn("n", "search", "x")


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
    parsed = parse(turn)
    assert isinstance(parsed, ToolCallError)
    assert fragment in parsed.message


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('<>/{}[]":, IStoolcalnmeqryuwxs\\\n')), max_size=120))
def test_the_tool_parser_never_raises(text):
    assert isinstance(parse(text), ToolTurn | ToolCallError)


def test_the_tools_block_is_the_schemas_chat_templates_render():
    block = tools_block(QA_TOOLS)
    assert block.startswith("<tools>\n") and block.endswith("\n</tools>")
    schemas = [json.loads(line) for line in block.splitlines()[1:-1]]
    assert [schema["function"]["name"] for schema in schemas] == ["search", "answer"]
    answers = schemas[1]["function"]["parameters"]
    assert answers["required"] == ["answers"] and answers["properties"]["answers"]["type"] == "array"


def test_every_built_in_kind_declares_a_tool_for_each_of_its_actions():
    for name in ("qa", "shop", "reasoning"):  # a plug-in without tools plays every protocol but tools
        kind = get_kind(name)
        assert tuple(tool.name for tool in action_tools(kind.actions)) == kind.actions
    with pytest.raises(KindError, match=r"declares a tool for action\(s\) browse"):
        action_tools(["search", "browse"])


def make(protocol, **options):
    options = {"n_objectives": 2, "source": SMALL_WORLD, **options}

    def build():
        return gym.make(TASKS_ENV_ID, split="test", seed=0, protocol=protocol, **options)

    return build


KINDS = {
    "qa": {},
    "shop": {"source": SHOP, "n_objectives": 1},
    "mixed": {"source": [SMALL_WORLD, SHOP], "strategy": "mixed", "n_objectives": 3},
}


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("task_index", [0, 4])
def test_the_oracle_s_episode_as_tool_calls_scores_as_with_tags(kind, task_index):
    """Questions, purchases and both in one episode: the same results, turn by turn, as with tags."""
    tag_env, tool_env = make("envkit", **KINDS[kind]), make("tools", **KINDS[kind])
    tag_turns = oracle_turns(tag_env, task_index)
    tool_turns = oracle_turns(tool_env, task_index)  # the oracle writes tool calls where the env reads them
    assert all("<tool_call>" in turn for turn in tool_turns)
    tags = reference_episode(tag_env, task_index, tag_turns)
    tools = reference_episode(tool_env, task_index, tool_turns)
    assert sum(s.reward for s in tools) == sum(s.reward for s in tags) == pytest.approx(1.0)
    assert [s.done for s in tools] == [s.done for s in tags]
    assert_same_episode(tags[1:], tools[1:], "tools protocol", shown="latest")  # same results, turn by turn
    env = tool_env()
    tags_of_env = env.get_wrapper_attr("tags")
    assert [as_tool_call(turn, tags_of_env, action_tools(tags_of_env.actions)) for turn in tag_turns] == tool_turns
    env.close()
    assert "<tools>" in tools[0].observation
    names = {
        json.loads(line)["function"]["name"]
        for line in tools[0].observation.split("<tools>\n")[1].split("\n</tools>")[0].splitlines()
    }
    assert names == set(tags_of_env.actions)
    assert tags[0].observation.split("\n")[-1] == tools[0].observation.split("\n")[-1]  # the same opening / objectives


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
