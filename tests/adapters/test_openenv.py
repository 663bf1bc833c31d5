"""envkit's envs as OpenEnv servers, driven by OpenEnv's own client over a real server on 127.0.0.1."""

import contextlib
import json
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.conftest import SMALL_WORLD, LiveServer, require


@pytest.fixture(scope="module")
def make_env():
    require("openenv", "fastapi", "uvicorn", "websockets")
    import gymnasium as gym

    from envkit.envs import TASKS_ENV_ID

    def make():
        return gym.make(TASKS_ENV_ID, n_objectives=2, source=SMALL_WORLD, split="test", seed=0)

    return make


@pytest.fixture(scope="module")
def server(make_env):
    from envkit.adapters.openenv import openenv_app

    live = LiveServer(openenv_app(make_env, max_sessions=4))
    yield live
    live.stop()


def client_steps(url, turns, task_index):
    from openenv.core.generic_client import GenericEnvClient

    from envkit.testing.conformance import EpisodeStep

    with GenericEnvClient(base_url=url).sync() as client:
        result = client.reset(seed=0, task_index=task_index)
        steps = [EpisodeStep(result.observation["text"], result.reward or 0.0, result.done)]
        for turn in turns:
            result = client.step({"text": turn})
            steps.append(EpisodeStep(result.observation["text"], result.reward or 0.0, result.done))
            if result.done:
                break
        state = client.state()
    return steps, state


@pytest.mark.slow
@pytest.mark.parametrize("task_index", [0, 3])
def test_openenv_client_sees_what_the_gymnasium_env_shows(make_env, server, task_index):
    from envkit.testing.conformance import assert_same_episode, oracle_turns, reference_episode

    turns = oracle_turns(make_env, task_index)
    reference = reference_episode(make_env, task_index, turns)
    assert reference[-1].done and reference[-1].reward == 1.0  # the oracle solves it: a real episode end
    steps, state = client_steps(server.url, turns, task_index)
    assert_same_episode(reference, steps, "OpenEnv GenericEnvClient")
    assert state["step_count"] == len(turns) and state["task_id"]


@pytest.mark.slow
def test_a_malformed_turn_is_an_observation_over_openenv(make_env, server):
    from envkit.testing.conformance import assert_same_episode, reference_episode

    turns = ["<search>no state element</search>", "<IS></IS><answer>x; y</answer>"]
    steps, _ = client_steps(server.url, turns, 1)
    assert "no <IS>" in steps[1].observation  # it says what was wrong
    assert_same_episode(reference_episode(make_env, 1, turns), steps, "OpenEnv GenericEnvClient")


def test_the_conformance_check_fails_on_a_different_episode(make_env, server):
    from envkit.testing.conformance import assert_same_episode, oracle_turns, reference_episode

    turns = oracle_turns(make_env, 0)
    steps, _ = client_steps(server.url, turns, 2)  # another task
    with pytest.raises(AssertionError, match="observation differs"):
        assert_same_episode(reference_episode(make_env, 0, turns), steps, "OpenEnv")


@pytest.mark.slow
def test_envkit_serve_env_serves_on_loopback_and_refuses_bad_options_in_one_line():
    require("openenv", "uvicorn")
    from tests.cli.test_cli import assert_one_line_error, envkit

    assert_one_line_error(envkit("serve-env", "--source", "nowhere:xyz"), "nowhere")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "envkit", "serve-env", "--source", SMALL_WORLD, "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                    health = json.loads(response.read())
                break
            except OSError:
                assert process.poll() is None, process.stderr.read().decode()
                assert time.monotonic() < deadline, "serve-env did not start"
                time.sleep(0.2)
        assert health["status"] == "healthy"
        steps, _ = client_steps(f"http://127.0.0.1:{port}", ["<IS></IS><search>river</search>"], 0)
        assert len(steps) == 2 and not steps[1].done
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.mark.parametrize(
    "options",
    [
        {"source": "shop:products=200,seed=1"},  # the shop in text mode
        {"source": SMALL_WORLD, "strategy": "mixed"},  # questions and purchases in one episode
    ],
    ids=["shop", "mixed"],
)
def test_openenv_conformance_holds_for_every_kind_of_env(options):
    require("openenv", "fastapi", "uvicorn", "websockets")
    import gymnasium as gym

    from envkit.adapters.openenv import openenv_app
    from envkit.envs import TASKS_ENV_ID
    from envkit.testing.conformance import assert_same_episode, oracle_turns, reference_episode

    def make():
        return gym.make(TASKS_ENV_ID, n_objectives=2, split="test", seed=0, **options)

    turns = oracle_turns(make, 0)
    reference = reference_episode(make, 0, turns)
    assert reference[-1].done and reference[-1].reward > 0
    live = LiveServer(openenv_app(make, max_sessions=2))
    try:
        steps, _ = client_steps(live.url, turns, 0)
    finally:
        live.stop()
    assert_same_episode(reference, steps, f"OpenEnv GenericEnvClient ({options['source']})")


@pytest.mark.parametrize("index", [-1, 10**9, "abc", 1.5, True])
def test_a_bad_task_index_or_seed_is_a_400_naming_it(server, index):
    """task_index -1, 10**9 or "abc" on /reset answered 500."""
    import httpx

    answer = httpx.post(f"{server.url}/reset", json={"task_index": index}, timeout=30)
    assert answer.status_code == 400 and "task_index must be an integer" in answer.text
    seeded = httpx.post(f"{server.url}/reset", json={"seed": 2**70}, timeout=30)
    assert 400 <= seeded.status_code < 500
    assert httpx.post(f"{server.url}/reset", json={"task_index": 1}, timeout=30).status_code == 200


def test_the_stateless_step_is_a_400_naming_the_session_route(server):
    import httpx

    answer = httpx.post(f"{server.url}/step", json={"action": {"text": "<IS>x</IS><search>q</search>"}}, timeout=30)
    assert answer.status_code == 400 and "/ws" in answer.text


@pytest.mark.slow
def test_sessions_left_idle_are_reaped_and_their_slots_freed(make_env):
    """8 idle WebSocket clients with --max-sessions 8 locked the 9th out for good."""
    from openenv.core.generic_client import GenericEnvClient

    from envkit.adapters.openenv import openenv_app

    live = LiveServer(openenv_app(make_env, max_sessions=2, idle_timeout_s=1.0))
    idle = []
    try:
        for _ in range(2):  # two clients take both slots and go quiet
            client = GenericEnvClient(base_url=live.url).sync()
            client.__enter__()
            client.reset(seed=0, task_index=0)
            idle.append(client)
        from websockets.exceptions import ConnectionClosed

        with pytest.raises(ConnectionClosed), GenericEnvClient(base_url=live.url).sync() as third:  # no slot left
            third.reset(seed=0, task_index=0)
        deadline = time.monotonic() + 30  # the reaper looks every 5 s at least
        while True:
            try:
                with GenericEnvClient(base_url=live.url).sync() as late:
                    assert late.reset(seed=0, task_index=0).observation["text"]
                break
            except Exception:
                assert time.monotonic() < deadline, "idle sessions were never reaped"
                time.sleep(1)
    finally:
        for client in idle:
            with contextlib.suppress(Exception):  # already closed by the reaper
                client.__exit__(None, None, None)
        live.stop()
