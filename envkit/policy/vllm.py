"""``VLLMPolicy``: the policy interface on vLLM, for GPU users who want fast batched generation.

Same contract as :class:`~envkit.policy.hf.HFPolicy`: contexts rendered with the
tokenizer's chat template, one batched call per step, generation stopped at the env's
action closing tags (kept in the output), a context over ``max_context_tokens`` returned
as ``over_budget`` instead of truncated, and per-turn token counts, latency and the
sampled tokens' log-probabilities. Install with ``pip install 'mem1-envkit[vllm]'``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from composers.records import Task
from envkit.policy.base import Generation, TurnRequest
from envkit.policy.hf import GenerationSettings

__all__ = ["VLLMPolicy"]


class VLLMPolicy:
    """A vLLM engine behind the policy interface (``model``: a folder or cached hub id)."""

    def __init__(
        self,
        model: str,
        generation: GenerationSettings | None = None,
        max_context_tokens: int = 8192,
        seed: int | None = None,
        **engine_options: Any,
    ) -> None:
        try:
            from vllm import LLM
        except ImportError:
            raise ImportError("the vLLM back-end needs vllm: pip install 'mem1-envkit[vllm]'") from None
        self.generation = generation or GenerationSettings()
        engine_options.setdefault("max_model_len", max_context_tokens + self.generation.max_new_tokens)
        self.engine = LLM(model=model, seed=seed or 0, **engine_options)
        self.tokenizer = self.engine.get_tokenizer()
        self.max_context_tokens, self.seed = max_context_tokens, seed

    def start(self, slot: int, task: Task) -> None:
        """Learned policies are not told the task: it is in the prompt."""

    def act(self, requests: Sequence[TurnRequest]) -> list[Generation]:
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        prompts = [
            self.tokenizer.apply_chat_template(r.messages, add_generation_prompt=True, tokenize=True) for r in requests
        ]
        results: list[Generation | None] = [None] * len(requests)
        batch = [i for i, ids in enumerate(prompts) if len(ids) <= self.max_context_tokens]
        for i, ids in enumerate(prompts):
            if len(ids) > self.max_context_tokens:
                results[i] = Generation("", len(ids), 0, 0.0, over_budget=True, prompt_ids=list(ids))
        if batch:
            settings = self.generation
            params = SamplingParams(
                max_tokens=settings.max_new_tokens,
                temperature=settings.temperature,
                top_p=settings.top_p,
                top_k=settings.top_k or -1,
                stop=sorted({s for i in batch for s in requests[i].stop}),
                include_stop_str_in_output=True,
                logprobs=0,
                seed=self.seed,
            )
            started = time.perf_counter()
            outputs = self.engine.generate([TokensPrompt(prompt_token_ids=prompts[i]) for i in batch], params,
                                           use_tqdm=False)  # fmt: skip
            latency = time.perf_counter() - started
            for i, output in zip(batch, outputs, strict=True):
                completion = output.outputs[0]
                ids = list(completion.token_ids)
                logprobs = [step[token].logprob for step, token in zip(completion.logprobs or (), ids, strict=False)]
                results[i] = Generation(
                    text=completion.text,
                    context_tokens=len(prompts[i]),
                    generated_tokens=len(ids),
                    latency_s=latency,
                    prompt_ids=list(prompts[i]),
                    completion_ids=ids,
                    logprobs=logprobs or None,
                )
        return [r for r in results if r is not None]
