"""A model policy behind an OpenAI-compatible chat endpoint, read by OpenAI's own Python client.

``envkit serve-policy tiny`` runs as a user runs it (a subprocess on 127.0.0.1); the
replies must be what envkit's HFPolicy writes for the same messages, whole or streamed.
"""

import json
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.conftest import LiveServer, require

MESSAGES = [
    {"role": "system", "content": "You keep notes in <IS>."},
    {"role": "user", "content": "Which organisation does Galan Waemmim work for?"},
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def local_reply(tiny, max_new_tokens: int, temperature: float = 0.0, seed: int | None = None) -> str:
    """What envkit's own HFPolicy writes for MESSAGES (greedy by default)."""
    from envkit.policy.base import TurnRequest
    from envkit.policy.hf import GenerationSettings, HFPolicy

    tokenizer, model = tiny
    settings = GenerationSettings(max_new_tokens=max_new_tokens, temperature=temperature)
    policy = HFPolicy(model, tokenizer, settings, device="cpu", seed=seed)
    (generation,) = policy.act([TurnRequest(0, "", {"messages": MESSAGES})])
    return generation.text


@pytest.fixture(scope="module")
def served():
    require("openai", "fastapi", "uvicorn", "torch", "transformers")
    port = free_port()
    command = [sys.executable, "-m", "envkit", "serve-policy", "tiny", "--port", str(port)]
    command += ["--temperature", "0", "--max-new-tokens", "16", "--device", "cpu"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{url}/v1/models", timeout=2) as response:
                json.loads(response.read())
            break
        except OSError:
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline, "serve-policy did not start"
            time.sleep(0.3)
    yield url
    process.terminate()
    process.wait(timeout=20)


@pytest.mark.slow
def test_openai_client_gets_what_hfpolicy_writes_whole_and_streamed(served, tiny):
    from openai import OpenAI

    client = OpenAI(base_url=f"{served}/v1", api_key="local")
    assert [model.id for model in client.models.list()] == ["tiny"]
    expected = local_reply(tiny, 16)
    whole = client.chat.completions.create(model="tiny", messages=MESSAGES)
    assert whole.choices[0].message.content == expected
    assert whole.choices[0].finish_reason == "length"  # 16 tokens of a random model: no end of turn
    assert whole.usage.completion_tokens == 16 and whole.usage.prompt_tokens > 10

    stream = client.chat.completions.create(
        model="tiny", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == expected
    assert [c.usage.total_tokens for c in chunks if c.usage] == [whole.usage.total_tokens]

    shorter = client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=4)
    assert shorter.choices[0].message.content == local_reply(tiny, 4)


@pytest.mark.slow
def test_sampling_settings_and_stop_strings_are_honoured(served, tiny):
    from openai import OpenAI

    client = OpenAI(base_url=f"{served}/v1", api_key="local")
    expected = local_reply(tiny, 16, temperature=1.0, seed=3)
    sampled = client.chat.completions.create(model="tiny", messages=MESSAGES, temperature=1.0, seed=3)
    assert sampled.choices[0].message.content == expected
    stop = next(expected[i : i + 2] for i in range(len(expected) // 2, len(expected)) if expected[i : i + 2].strip())
    reply = client.chat.completions.create(model="tiny", messages=MESSAGES, temperature=1.0, seed=3, stop=[stop])
    assert reply.choices[0].message.content == expected[: expected.find(stop)]
    assert reply.choices[0].finish_reason == "stop"


def test_bad_requests_get_openai_errors_naming_the_problem(tiny):
    require("openai", "fastapi", "uvicorn")
    import openai

    from envkit.policy.chat_server import chat_completions_app, policy_replies
    from envkit.policy.hf import GenerationSettings, HFPolicy

    tokenizer, model = tiny
    settings = GenerationSettings(max_new_tokens=4, temperature=0.0)
    policy = HFPolicy(model, tokenizer, settings, max_context_tokens=8, device="cpu")
    server = LiveServer(chat_completions_app(policy_replies(policy, settings), "tiny"))
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="local", max_retries=0)
    try:
        with pytest.raises(openai.NotFoundError, match="model `big` does not exist"):
            client.chat.completions.create(model="big", messages=MESSAGES)
        with pytest.raises(openai.BadRequestError, match="over this server's 8"):
            client.chat.completions.create(model="tiny", messages=MESSAGES)
        with pytest.raises(openai.UnprocessableEntityError):
            client.chat.completions.create(model="tiny", messages=MESSAGES, n=2)
    finally:
        server.stop()


def test_hostile_request_values_are_4xx_naming_the_field(tiny):
    """NaN temperature, seed 2**70 and an escaped lone surrogate answered 5xx; max_tokens 1,000,000 was accepted
    and held the single generation lock past the client's timeout."""
    require("fastapi", "uvicorn")
    import httpx

    from envkit.policy.chat_server import chat_completions_app, policy_replies
    from envkit.policy.hf import GenerationSettings, HFPolicy

    tokenizer, model = tiny
    settings = GenerationSettings(max_new_tokens=4, temperature=0.0)
    policy = HFPolicy(model, tokenizer, settings, max_context_tokens=512, device="cpu")
    server = LiveServer(chat_completions_app(policy_replies(policy, settings, max_tokens_limit=64), "tiny"))
    url = f"{server.url}/v1/chat/completions"
    message = '{"role": "user", "content": "hi"}'
    try:
        for field, value in (("temperature", "NaN"), ("temperature", "Infinity"), ("top_p", "NaN"), ("seed", 2**70)):
            body = f'{{"model": "tiny", "messages": [{message}], "{field}": {value}}}'
            answer = httpx.post(url, content=body, headers={"content-type": "application/json"}, timeout=60)
            assert answer.status_code == 422 and field in answer.text, (field, answer.text)
        greeting = [{"role": "user", "content": "hi"}]
        too_many = httpx.post(url, json={"model": "tiny", "messages": greeting, "max_tokens": 10**6}, timeout=60)
        assert too_many.status_code == 400 and "at most 64" in too_many.text
        surrogate = '{"model": "tiny", "messages": [{"role": "user", "content": "a\\ud800b"}], "max_tokens": 2}'
        answer = httpx.post(url, content=surrogate, headers={"content-type": "application/json"}, timeout=60)
        assert answer.status_code == 200, answer.text
    finally:
        server.stop()


@pytest.mark.slow
def test_serve_policy_refuses_a_scripted_policy_in_one_line():
    from tests.cli.test_cli import assert_one_line_error, envkit

    assert_one_line_error(envkit("serve-policy", "oracle"), "oracle")
    assert_one_line_error(envkit("serve-policy", "nothing"), "nothing")
