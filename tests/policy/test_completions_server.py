"""CompletionsServerPolicy against a real HTTP server on 127.0.0.1.

vLLM cannot run on this machine (CUDA only), so the server here answers vLLM's
``/v1/completions`` request and response shape (token-id prompts, ``stop`` kept in the
text, ``return_token_ids``, ``logprobs=0``) from the tiny model through HFPolicy. The
test checks the client side: what it sends, what it parses, and that episodes played
through it are what the model behind the server produced.
"""

import pytest

from envkit.envs import QA_ENV_ID
from tests.conftest import SMALL_WORLD, LiveServer, require


def completions_app(model_dir: str):
    import threading

    from fastapi import FastAPI, HTTPException

    from envkit.policy.hf import GenerationSettings, HFPolicy

    local = HFPolicy.from_pretrained(model_dir, device="cpu")
    lock = threading.Lock()  # one generation at a time: a request's seed is torch's global seed here
    app = FastAPI()
    app.state.bodies = []

    @app.get("/v1/models")
    def models() -> dict:
        return {"object": "list", "data": [{"id": model_dir, "object": "model"}]}

    @app.post("/v1/completions")
    def complete(body: dict) -> dict:
        app.state.bodies.append(body)
        if body.get("model") != model_dir:
            raise HTTPException(404, f"The model `{body.get('model')}` does not exist.")
        prompts = body["prompt"]
        with lock:
            local.generation = GenerationSettings(
                max_new_tokens=body["max_tokens"], temperature=body["temperature"], top_p=body["top_p"]
            )
            local.seed = body.get("seed")
            generations = local._generate([list(p) for p in prompts], tuple(body.get("stop") or ()))
        return {
            "object": "text_completion",
            "model": model_dir,
            "choices": [
                {"index": i, "text": g.text, "token_ids": g.completion_ids, "prompt_token_ids": g.prompt_ids,
                 "logprobs": {"token_logprobs": g.logprobs, "tokens": [f"token_id:{t}" for t in g.completion_ids]},
                 "finish_reason": "stop"}
                for i, g in enumerate(generations)
            ][::-1],  # out of order on purpose: clients sort by index
        }  # fmt: skip

    return app


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    require("fastapi", "uvicorn", "httpx", "torch", "transformers", "tokenizers")
    from envkit.policy.tiny import save_tiny_model

    model_dir = str(tmp_path_factory.mktemp("tiny") / "model")
    save_tiny_model(model_dir)
    app = completions_app(model_dir)
    live = LiveServer(app)
    live.app, live.model_dir = app, model_dir
    yield live
    live.stop()


def test_server_policy_plays_episodes_with_the_served_models_tokens(server):
    from envkit.policy.completions import CompletionsServerPolicy
    from envkit.policy.hf import GenerationSettings
    from envkit.rollout.runner import RolloutRunner, env_factory

    policy = CompletionsServerPolicy(server.url, generation=GenerationSettings(max_new_tokens=24), seed=0)
    assert policy.model == server.model_dir  # its tokenizer came from the reported model folder
    make = env_factory(QA_ENV_ID, n_objectives=2, source=SMALL_WORLD, split="test", max_turns=3)
    with RolloutRunner(make, policy, batch_size=3) as runner:
        trajectories = runner.run(3)
    turns = [turn for t in trajectories for turn in t.turns]
    assert turns and all(turn.generation is not None for turn in turns)
    for turn in turns:
        generation = turn.generation
        assert (
            generation.prompt_ids
            == policy.tokenizer(
                policy.tokenizer.apply_chat_template(turn.context, add_generation_prompt=True, tokenize=False),
                add_special_tokens=False,
            )["input_ids"]
        )
        assert 0 < len(generation.completion_ids) <= 24 and len(generation.logprobs) == len(generation.completion_ids)
        assert all(lp <= 0 for lp in generation.logprobs)
    body = server.app.state.bodies[-1]
    assert body["stop"] and body["include_stop_str_in_output"] and body["return_token_ids"]
    assert body["logprobs"] == 0 and len(body["prompt"]) == 1  # seeded: one request per prompt
    # every sampling setting is sent: vLLM fills what a request leaves out from the model's generation_config
    neutral = {"top_k": -1, "min_p": 0.0, "repetition_penalty": 1.0, "presence_penalty": 0.0, "frequency_penalty": 0.0}
    assert {name: body[name] for name in neutral} == neutral
    assert (body["temperature"], body["top_p"]) == (1.0, 1.0)


def test_seeds_differ_per_prompt_so_a_group_does_not_collapse(server):
    from envkit.policy.base import TurnRequest
    from envkit.policy.completions import CompletionsServerPolicy
    from envkit.policy.hf import GenerationSettings

    policy = CompletionsServerPolicy(server.url, generation=GenerationSettings(max_new_tokens=16), seed=7)
    context = [{"role": "system", "content": "answer"}, {"role": "user", "content": "Who founded Varnholt?"}]
    requests = [TurnRequest(slot, "", {"messages": context}, ("</answer>",)) for slot in range(4)]
    texts = [g.completion_ids for g in policy.act(requests)]
    assert len({tuple(t) for t in texts}) > 1  # the same context, four different samples
    again = CompletionsServerPolicy(server.url, generation=GenerationSettings(max_new_tokens=16), seed=7)
    assert [g.completion_ids for g in again.act(requests)] == texts  # and reproducible


def test_over_budget_contexts_are_refused_locally(server):
    from envkit.policy.base import TurnRequest
    from envkit.policy.completions import CompletionsServerPolicy

    policy = CompletionsServerPolicy(server.url, max_context_tokens=5)
    sent = len(server.app.state.bodies)
    [generation] = policy.act([TurnRequest(0, "a long question " * 5, {}, ())])
    assert generation.over_budget and generation.generated_tokens == 0
    assert len(server.app.state.bodies) == sent  # nothing was sent


def test_server_errors_are_one_line():
    require("httpx", "transformers")
    import socket

    from envkit.policy.completions import CompletionsServerPolicy, ServerError

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ServerError, match=r"completions server http://127.0.0.1:\d+: ConnectError"):
        CompletionsServerPolicy(f"http://127.0.0.1:{port}", timeout=2)
    with pytest.raises(ValueError, match="starts with http"):
        CompletionsServerPolicy("127.0.0.1:8000")
