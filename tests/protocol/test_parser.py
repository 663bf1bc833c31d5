import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envkit.protocol.parser import Turn, Violation, ViolationKind, parse_answers, parse_turn
from envkit.protocol.tags import QA_TAGS, TagSet


def test_valid_search_turn():
    turn = parse_turn("<IS> know X </IS>\n<search> who is X </search>")
    assert turn == Turn(state="know X", action=turn.action)
    assert (turn.action.name, turn.action.content) == ("search", "who is X")


def test_free_text_around_elements_and_plain_angle_brackets_are_fine():
    turn = parse_turn("thinking... x < y <IS>a<b</IS> then <answer>3 < 4</answer> done")
    assert isinstance(turn, Turn)
    assert turn.state == "a<b"
    assert turn.action.content == "3 < 4"


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("<search>q</search>", ViolationKind.MISSING_STATE),
        ("<IS>a</IS><IS>b</IS><search>q</search>", ViolationKind.MULTIPLE_STATES),
        ("<IS>a</IS>", ViolationKind.MISSING_ACTION),
        ("<IS>a</IS><search>q</search><answer>x</answer>", ViolationKind.MULTIPLE_ACTIONS),
        ("<search>q</search><IS>a</IS>", ViolationKind.ACTION_BEFORE_STATE),
        ("<IS>a</IS><lookup>q</lookup>", ViolationKind.UNKNOWN_TAG),
        ("<IS>a</IS><information>fake</information>", ViolationKind.RESERVED_TAG),
        ("<IS>a</IS><search>q", ViolationKind.UNBALANCED_TAG),
        ("<IS>a</IS></search>", ViolationKind.UNBALANCED_TAG),
        ("<IS>a</search>", ViolationKind.UNBALANCED_TAG),
        ("<IS><search>q</search></IS>", ViolationKind.NESTED_TAG),
        ("<IS>a</IS><search>   </search>", ViolationKind.EMPTY_ACTION),
        ("", ViolationKind.MISSING_STATE),
    ],
)
def test_violations_are_typed_and_named(text, kind):
    result = parse_turn(text)
    assert isinstance(result, Violation)
    assert result.kind is kind
    assert "\n" not in result.message and result.message


def test_custom_tags_follow_the_tagset():
    tags = TagSet(state="think", actions=("search", "answer"))
    assert isinstance(parse_turn("<think>s</think><answer>a</answer>", tags), Turn)
    violation = parse_turn("<IS>s</IS><answer>a</answer>", tags)
    assert isinstance(violation, Violation) and violation.kind is ViolationKind.UNKNOWN_TAG
    assert "<think>" in violation.message


def test_tagset_rejects_bad_names():
    with pytest.raises(ValueError, match="invalid tag name"):
        TagSet(state="I S")
    with pytest.raises(ValueError, match="distinct"):
        TagSet(state="search")


@settings(max_examples=600, deadline=None)
@given(st.text())
def test_parser_never_raises_on_any_string(text):
    assert isinstance(parse_turn(text), (Turn, Violation))


_TAGGY = st.lists(
    st.sampled_from(["<IS>", "</IS>", "<search>", "</search>", "<answer>", "</answer>", "<x>", "<", ">", "a", " "]),
    max_size=12,
).map("".join)


@settings(max_examples=600, deadline=None)
@given(_TAGGY)
def test_parser_never_raises_on_tag_soup(text):
    result = parse_turn(text)
    assert isinstance(result, (Turn, Violation))


_CONTENT = st.text(alphabet=st.characters(blacklist_characters="<>"), min_size=1).filter(lambda s: s.strip())


@settings(max_examples=300, deadline=None)
@given(_CONTENT, _CONTENT, st.sampled_from(QA_TAGS.actions))
def test_format_then_parse_round_trips(state, content, action):
    turn = parse_turn(QA_TAGS.format_turn(state, action, content))
    assert isinstance(turn, Turn)
    assert (turn.state, turn.action.name, turn.action.content) == (state.strip(), action, content.strip())


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("Paris; London ; 1999", ["Paris", "London", "1999"]),
        ("1. Paris\n2. London", ["Paris", "London"]),
        ("1) Paris 2) London 3) Rome", ["Paris", "London", "Rome"]),
        ("1. Paris\n3. Rome", ["Paris", "", "Rome"]),
        ("only one", ["only one"]),
        ("1. 1999; 2. 2001", ["1999", "2001"]),
    ],
)
def test_parse_answers(content, expected):
    assert parse_answers(content) == expected


@pytest.mark.parametrize(
    ("content", "answers"),
    [
        ("1. FC Köln; Berlin", ["1. FC Köln", "Berlin"]),  # a club named "1. FC Köln", then a second answer
        ("1. FC Köln", ["1. FC Köln"]),  # a lone "1. ..." is one answer as written, not a list of one
        ("1) Paris", ["1) Paris"]),
        ("1. Paris 2. Rome", ["Paris", "Rome"]),
        ("1) Paris; 2) Rome", ["Paris", "Rome"]),
        ("2. Rome 1. Paris", ["2. Rome 1. Paris"]),  # not numbered in order: not a numbered list
    ],
)
def test_a_numbered_list_is_read_only_when_the_whole_answer_is_one(content, answers):
    assert parse_answers(content) == answers


def _clubs_env(tmp_path, n_objectives):
    import json

    import gymnasium as gym

    from envkit.envs import QA_ENV_ID

    qa = tmp_path / "clubs.jsonl"
    rows = [
        {"id": "0", "question": "Which club plays at the RheinEnergieStadion?", "golden_answers": ["1. FC Köln"]},
        {"id": "1", "question": "Which city is the German capital?", "golden_answers": ["Berlin"]},
    ]
    qa.write_text("".join(json.dumps(r) + "\n" for r in rows))
    corpus = tmp_path / "corpus.jsonl"
    docs = [
        ("RheinEnergieStadion", "1. FC Köln plays at the RheinEnergieStadion."),
        ("Berlin", "Berlin is the capital."),
    ]
    corpus.write_text(
        "".join(json.dumps({"id": str(i), "title": t, "text": x}) + "\n" for i, (t, x) in enumerate(docs))
    )
    return gym.make(QA_ENV_ID, source=f"file:train={qa}", n_objectives=n_objectives, corpus=corpus)


@pytest.mark.parametrize("n_objectives", [1, 2])
def test_the_oracle_scores_on_golds_that_look_numbered(tmp_path, n_objectives):
    from envkit.policy.scripted import OracleAgent
    from envkit.rollout.episode import run_episode

    env = _clubs_env(tmp_path, n_objectives)
    for index in range(2 // n_objectives):
        trajectory = run_episode(env, OracleAgent(), task_index=index)
        assert trajectory.objective_scores == [1.0] * n_objectives and trajectory.success


def test_a_lone_numbered_answer_scores_as_written_at_one_objective(tmp_path):
    env = _clubs_env(tmp_path, 1)
    env.reset(options={"task_index": 0})
    _, reward, terminated, _, info = env.step("<IS>found it</IS><answer>1. FC Köln</answer>")
    assert terminated and reward == 1.0 and info["objective_scores"] == [1.0]


def test_tags_that_are_not_the_protocols_are_text_inside_an_element():
    shop = TagSet(actions=("action",))
    turn = parse_turn("<IS>notes <b>x</b></IS><action>search[<script>alert(1)</script> boots]</action>", shop)
    assert isinstance(turn, Turn) and turn.action.content == "search[<script>alert(1)</script> boots]"
    assert turn.state == "notes <b>x</b>"
    outside = parse_turn("<IS>x</IS><lookup>q</lookup>", shop)
    assert isinstance(outside, Violation) and outside.kind is ViolationKind.UNKNOWN_TAG
    reserved = parse_turn("<IS>x</IS><action>search[<information>fake</information>]</action>", shop)
    assert isinstance(reserved, Violation) and reserved.kind is ViolationKind.RESERVED_TAG
    nested = parse_turn("<IS>x</IS><action><IS>y</IS></action>", shop)
    assert isinstance(nested, Violation) and nested.kind is ViolationKind.NESTED_TAG
