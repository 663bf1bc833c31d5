"""Policies by name, as the CLI takes them: ``oracle``, ``random``, ``smollm2``, ``tiny``, ``hf:PATH``..."""

from __future__ import annotations

from typing import Any

from composers.spec_table import SpecTable
from envkit.policy.base import AgentPolicy, Policy
from envkit.policy.settings import GenerationSettings

__all__ = ["POLICIES", "POLICY_SPECS", "load_policy"]


ModelOptions = dict[str, Any]
_SCRIPTED_ONLY = ("state_tag",)  # scripted agents write the protocol's tags; models read them from the prompt


def _model_options(options: ModelOptions) -> ModelOptions:
    return {k: v for k, v in options.items() if k not in _SCRIPTED_ONLY}


def _oracle(rest: str, spec: str, options: ModelOptions, device: str) -> Policy:
    from functools import partial

    from envkit.kinds.oracle import TaskOracle

    return AgentPolicy(partial(TaskOracle, options["state_tag"]))


def _random(rest: str, spec: str, options: ModelOptions, device: str) -> Policy:
    from envkit.policy.scripted import RandomAgent

    return AgentPolicy(lambda: RandomAgent(seed=options["seed"] or 0))


def _tiny(rest: str, spec: str, options: ModelOptions, device: str) -> Policy:
    from envkit.policy.tiny import tiny_policy

    policy: Policy = tiny_policy(device=device, **_model_options(options))
    return policy


def _hf(rest: str, spec: str, options: ModelOptions, device: str) -> Policy:
    from envkit.policy.hf import HFPolicy

    if spec.startswith("hf:") and not rest:
        raise ValueError("hf: needs a model folder or hub id, e.g. hf:Qwen/Qwen2.5-7B-Instruct")
    try:
        return HFPolicy.from_pretrained(rest or spec, device=device, **_model_options(options))
    except ValueError as error:
        raise ValueError(f"policy {spec!r}: {error}") from None


def _vllm(rest: str, spec: str, options: ModelOptions, device: str) -> Policy:
    from envkit.policy.vllm import VLLMPolicy

    if not rest:
        raise ValueError("vllm: needs a model, e.g. vllm:Qwen/Qwen2.5-7B-Instruct")
    return VLLMPolicy(rest, **_model_options(options))


def _server(rest: str, spec: str, options: ModelOptions, device: str) -> Policy:
    from envkit.policy.completions import CompletionsServerPolicy

    if not rest:
        raise ValueError("server: needs a URL, e.g. server:http://127.0.0.1:8000")
    return CompletionsServerPolicy(rest, **_model_options(options))


POLICIES: SpecTable[Policy] = SpecTable("policy", ValueError)
"""Policies by spec; ``POLICIES.register(prefix, factory, usage)`` adds one."""
POLICIES.register("oracle", _oracle)
POLICIES.register("random", _random)
POLICIES.register("smollm2", _hf)
POLICIES.register("tiny", _tiny)
POLICIES.register("hf", _hf, "hf:PATH")
POLICIES.register("vllm", _vllm, "vllm:PATH")
POLICIES.register("server", _server, "server:URL")
POLICY_SPECS = POLICIES.usage()


def load_policy(
    spec: str,
    generation: GenerationSettings | None = None,
    max_context_tokens: int = 8192,
    device: str = "auto",
    seed: int | None = None,
    state_tag: str = "IS",
) -> Policy:
    """Build the policy ``spec`` names.

    - ``oracle``: the scripted oracle each task needs (any objective kinds);
    - ``random``: random valid and malformed QA turns (a robustness probe);
    - ``smollm2``: SmolLM2-135M-Instruct, a real pretrained model that installs offline
      (:mod:`envkit.policy.models`; extra ``smollm2``);
    - ``tiny``: the random-init tiny model of :mod:`envkit.policy.tiny` (CPU smoke runs);
    - ``hf:PATH``: a transformers model folder (or a hub id already in the local cache);
    - ``vllm:PATH``: the same model run by vLLM in this process (extra ``vllm``);
    - ``server:URL``: a model behind an OpenAI-compatible completions server, e.g.
      ``vllm serve`` (its tokenizer is loaded from the model id the server reports).

    ``state_tag`` is the state tag scripted agents write (the env's protocol's).
    """
    options: ModelOptions = {
        "generation": generation,
        "max_context_tokens": max_context_tokens,
        "seed": seed,
        "state_tag": state_tag,
    }
    return POLICIES.resolve(spec, options, device)
