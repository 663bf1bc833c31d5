"""envkit's tasks as a verifiers environment, played by verifiers' own ``vf-eval`` against real servers on 127.0.0.1.

``vf-eval envkit_verifiers`` runs in a subprocess, as a user runs it: verifiers loads
the taskset and env by module name, its ``null`` harness program asks an
OpenAI-compatible endpoint for every turn, and the episodes land in ``traces.jsonl``.

- The oracle endpoint answers each context with the scripted oracle's turn for exactly
  the context the Gymnasium env showed before that turn, and anything else with a turn
  that scores nothing: the episodes score 1.0 and agree step by step with the
  Gymnasium env only if the adapter showed the model exactly the protocol's contexts.
- The tiny model behind ``chat_completions_app`` (greedy) must play the same turns
  through verifiers as envkit's own rollout of the same model does.
"""

import json
import os
import subprocess

import pytest

from tests.conftest import HANG_GUARD_S, SMALL_WORLD, LiveServer, require

TASKS = 3


SHOP = "shop:products=200,seed=1"
MIXED = {"source": [SMALL_WORLD, SHOP], "strategy": "mixed", "n_objectives": 3}


def env_options(context: str, protocol: str, **kinds) -> dict:
    return {
        "source": SMALL_WORLD,
        "n_objectives": 2,
        "strategy": "parallel",
        **kinds,
        "seed": 0,
        "count": TASKS,
        "split": "test",
        "context": context,
        "protocol": protocol,
    }


def make_env_for(options: dict):
    import gymnasium as gym

    from envkit.envs import TASKS_ENV_ID

    return lambda: gym.make(TASKS_ENV_ID, **options)


def message_key(messages) -> str:
    return json.dumps([[m["role"], m["content"]] for m in messages])


def oracle_table(make_env, task_indices) -> dict[str, str]:
    """The oracle's turn for each context the Gymnasium env shows on the way to solving each task."""
    from envkit.testing.conformance import oracle_turns

    table = {}
    env = make_env()
    for index in task_indices:
        _, info = env.reset(options={"task_index": index})
        for turn in oracle_turns(make_env, index):
            table[message_key(info["messages"])] = turn
            *_, info = env.step(turn)
    env.close()
    return table


def vf_eval(tmp_path, url: str, model: str, options: dict, extra: tuple[str, ...] = ()) -> list[dict]:
    """``vf-eval envkit_verifiers`` with the taskset flags for ``options`` (as env_options writes them)."""
    sources = [options["source"]] if isinstance(options["source"], str) else options["source"]
    flags = ["--env.taskset.source", *sources, "--env.taskset.num-tasks", str(TASKS)]
    for name in ("n_objectives", "strategy", "context", "protocol", "max_turns"):
        if name in options:
            flags += [f"--env.taskset.{name.replace('_', '-')}", str(options[name])]
    client = ["--client.base-url", f"{url}/v1", "--client.api-key-var", "ENVKIT_TEST_KEY"]
    output = ["--no-push", "--no-rich", "-o", str(tmp_path), "--run.dir", "run"]
    command = ["vf-eval", "envkit_verifiers", "-m", model, *client, *output, *flags, *extra]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=HANG_GUARD_S, env={**os.environ, "ENVKIT_TEST_KEY": "local"}
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with open(tmp_path / "run" / "traces.jsonl") as lines:
        episodes = [json.loads(line) for line in lines]
    return sorted(episodes, key=lambda episode: episode["task"]["data"]["task_index"])


CASES = {
    "qa-consolidated": env_options("consolidated", "envkit"),
    "qa-full-tools": env_options("full", "tools"),
    "mixed-qa-and-shop-tools": env_options("consolidated", "tools", **MIXED),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_vf_eval_shows_the_model_exactly_the_protocols_contexts(tmp_path, case):
    require("verifiers", "fastapi", "uvicorn")
    from envkit.adapters.verifiers_env import REWARD_NAME, episode_steps
    from envkit.policy.chat_server import ChatReply, chat_completions_app
    from envkit.testing.conformance import assert_same_episode, oracle_turns, reference_episode

    options = CASES[case]
    make_env = make_env_for(options)
    table = oracle_table(make_env, range(TASKS))
    unknown: list = []

    def oracle_reply(request):
        turn = table.get(message_key(request.messages))
        if turn is None:
            unknown.append(request.messages)
            turn = "<IS></IS> a context the Gymnasium env never showed"
        return ChatReply(turn, prompt_tokens=len(str(request.messages)), completion_tokens=len(turn))

    server = LiveServer(chat_completions_app(oracle_reply, "oracle"))
    try:
        episodes = vf_eval(tmp_path, server.url, "oracle", options)
    finally:
        server.stop()
    assert not unknown, f"the model was shown {len(unknown)} context(s) the env did not give, first: {unknown[0]}"
    assert [episode["task"]["data"]["task_index"] for episode in episodes] == list(range(TASKS))
    for episode in episodes:
        index = episode["task"]["data"]["task_index"]
        reference = reference_episode(make_env, index, oracle_turns(make_env, index))
        steps = episode_steps(episode)
        assert_same_episode(reference[:-1], steps[:-1], f"vf-eval task {index}")  # every context a turn was played on
        assert_same_episode(reference[1:], steps[1:], f"vf-eval task {index}", shown="latest")
        assert len(episode["traces"]) == len(reference) - 1  # one model call per turn
        for trace in episode["traces"]:
            assert trace["rewards"][REWARD_NAME]["score"] == pytest.approx(1.0)
            assert trace["metrics"]["success"] == 1.0 and trace["metrics"]["violations"] == 0.0


@pytest.mark.slow
def test_a_served_model_plays_through_verifiers_as_in_envkits_own_rollout(tmp_path, tiny):
    require("verifiers", "fastapi", "uvicorn")
    from envkit.adapters.verifiers_env import episode_steps
    from envkit.policy.chat_server import chat_completions_app, policy_replies
    from envkit.policy.hf import GenerationSettings, HFPolicy
    from envkit.rollout.runner import RolloutRunner

    tokenizer, model = tiny
    settings = GenerationSettings(max_new_tokens=24, temperature=0.0)
    options = {**env_options("consolidated", "envkit"), "max_turns": 3}
    with RolloutRunner(make_env_for(options), HFPolicy(model, tokenizer, settings, device="cpu")) as runner:
        own = runner.run(TASKS)

    served = HFPolicy(model, tokenizer, settings, device="cpu")
    server = LiveServer(chat_completions_app(policy_replies(served, settings), "tiny"))
    try:
        episodes = vf_eval(tmp_path, server.url, "tiny", options)
    finally:
        server.stop()
    for trajectory, episode in zip(own, episodes, strict=True):
        steps = episode_steps(episode)[1:]
        assert [step.latest for step in steps] == [turn.observation for turn in trajectory.turns]
        assert [step.reward for step in steps] == [turn.reward for turn in trajectory.turns]
        recorded = sorted((trace["info"]["envkit_step"] for trace in episode["traces"]), key=lambda s: s["turn"])
        assert [step["text"] for step in recorded] == [turn.output for turn in trajectory.turns]
        assert [step["violation"] for step in recorded] == [turn.violation for turn in trajectory.turns]


@pytest.mark.slow
def test_a_bad_taskset_option_fails_in_one_line_naming_it(tmp_path):
    require("verifiers")
    from envkit.adapters.verifiers_env import EnvkitTasksetConfig
    from envkit_verifiers import EnvkitTaskset

    with pytest.raises(ValueError, match="strategy"):
        list(EnvkitTaskset(EnvkitTasksetConfig(id="envkit_verifiers", strategy="sideways")))
