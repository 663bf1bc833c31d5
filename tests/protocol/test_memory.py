"""Memory operations as context builders: summary(k) and fold, steered by the agent's own memory elements."""

import gymnasium as gym
import pytest

from envkit.envs import TASKS_ENV_ID
from envkit.protocol.context import make_context_builder
from envkit.protocol.memory import Fold, Summary, take_elements
from envkit.testing.conformance import oracle_turns, reference_episode
from tests.conftest import SMALL_WORLD

SHOP = "shop:products=200,seed=1"
S, B, R = {"summary": "s"}, {"branch": "g"}, {"return": "r"}


def test_memory_elements_are_taken_out_of_what_the_env_reads():
    text, found = take_elements("<IS>a</IS>\n<summary> kept </summary><search>q</search>", ("summary",))
    assert found == {"summary": "kept"} and text == "<IS>a</IS>\n<search>q</search>"
    text, found = take_elements("<IS>a</IS><summary>never closed<search>q</search>", ("summary",))
    assert found == {} and "<summary>" in text  # left for the env's parser to report
    text, found = take_elements("<branch>one</branch><branch>two</branch>", ("branch", "return"))
    assert found == {"branch": "one"} and text == ""


def test_summary_keeps_the_turn_that_summarised_and_the_turns_since():
    builder = Summary(2)
    assert builder.retained_turns([{}, {}, {}]) == [0, 1, 2]  # nothing summarised yet
    assert builder.retained_turns([{}, {}, S, {}]) == [2, 3]
    assert builder.retained_turns([{}, S, {}, S]) == [3]
    assert [bool(builder.request(turns)) for turns in ([{}], [{}, {}], [{}, {}, S], [{}, {}, S, {}, {}])] == [
        False,
        True,
        False,
        True,
    ]
    assert builder.demonstrate([{}, {}], "state") == {"summary": "state"} and builder.demonstrate([{}], "x") == {}


def test_fold_drops_a_closed_branch_and_keeps_the_turn_that_returned():
    builder = Fold()
    assert builder.retained_turns([{}, B, {}, {}]) == [0, 1, 2, 3]  # an open branch is still visible
    assert builder.retained_turns([{}, B, {}, R, {}]) == [0, 3, 4]
    assert builder.retained_turns([B, R | B, {}, R]) == [1, 3]  # returned and opened: the returning turn stays
    assert builder.retained_turns([B, {}, B, R]) == [3]  # a branch inside a branch is ignored
    assert builder.request([B, {}, B]) == "[MEMORY] Ignored: turn 3: <branch> inside the branch opened at turn 1."
    assert builder.request([R]) == "[MEMORY] Ignored: turn 1: <return> with no branch open."
    assert builder.request([B, R]) == ""
    assert builder.demonstrate([], "st") == {"branch": "the next step"} and builder.demonstrate([B], "st") == {
        "return": "st"
    }


@pytest.mark.parametrize(("spec", "built"), [("summary(3)", Summary(3)), ("fold", Fold())])
def test_the_builders_are_specs_like_the_others(spec, built):
    assert make_context_builder(spec) == built and built.name == spec
    with pytest.raises(ValueError, match="positive integer"):
        make_context_builder("summary(x)")


def qa_env(context):
    return gym.make(TASKS_ENV_ID, n_objectives=2, source=SMALL_WORLD, split="test", seed=0, context=context)


def test_under_summary_the_env_asks_and_the_context_starts_at_the_summary():
    env = qa_env("summary(2)")
    observation, info = env.reset(options={"task_index": 0})
    assert "every 2 turn(s) you will be asked for a summary" in observation
    observation, _, _, _, info = env.step("<IS>a</IS><search>first query</search>")
    assert "[MEMORY]" not in observation and len(info["messages"]) == 3
    observation, _, _, _, info = env.step("<IS>b</IS><search>second query</search>")
    assert info["messages"][-1]["content"].endswith("the turns after it.") and len(info["messages"]) == 5
    observation, _, _, _, info = env.step("<IS>c</IS><summary>what I know</summary><search>third query</search>")
    assert info["violation"] is None and info["memory_notes"] == {"summary": "what I know"}
    assert "first query" not in observation and "second query" not in observation  # dropped
    assert "<summary>what I know</summary>" in observation and len(info["messages"]) == 3
    _, _, _, _, info = env.step("<IS>d</IS><summary>unclosed<search>q</search>")
    assert info["violation"] == "unknown_tag"  # a malformed element is the env's to report, never a crash


def test_under_fold_a_closed_branch_vanishes_and_mistakes_are_told():
    env = qa_env("fold")
    observation, _ = env.reset(options={"task_index": 0})
    assert "<branch> goal </branch>" in observation
    env.step("<IS>a</IS><search>main line</search>")
    env.step("<IS>b</IS><branch>find the year</branch><search>inside branch</search>")
    observation, *_ = env.step("<IS>c</IS><search>still inside</search>")
    assert "inside branch" in observation and "still inside" in observation
    observation, _, _, _, info = env.step("<IS>d</IS><return>year 1975</return><search>after</search>")
    assert "main line" in observation and "<return>year 1975</return>" in observation
    assert "inside branch" not in observation and "still inside" not in observation
    assert len(info["messages"]) == 5 and info["violation"] is None
    observation, *_ = env.step("<IS>e</IS><return>nothing open</return><search>x</search>")
    assert "[MEMORY] Ignored: turn 5: <return> with no branch open." in observation


KINDS = {
    "qa": {},
    "shop": {"source": SHOP, "n_objectives": 1},
    "mixed": {"source": [SMALL_WORLD, SHOP], "strategy": "mixed", "n_objectives": 3},
}


@pytest.mark.parametrize("protocol", ["envkit", "tools"])
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("context", ["summary(2)", "fold"])
def test_the_oracle_scores_1_under_every_memory_operation(context, kind, protocol):
    options = {"n_objectives": 2, "source": SMALL_WORLD, **KINDS[kind]}

    def make():
        return gym.make(TASKS_ENV_ID, split="test", seed=0, context=context, protocol=protocol, **options)

    for task_index in (0, 3):
        turns = oracle_turns(make, task_index)
        steps = reference_episode(make, task_index, turns)
        assert steps[-1].done and sum(step.reward for step in steps) == pytest.approx(1.0)
        element = "<summary>" if context.startswith("summary") else "<return>"
        assert len(turns) < 3 or any(element in turn for turn in turns)  # it used the operation
