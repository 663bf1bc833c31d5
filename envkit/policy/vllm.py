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
from envkit.policy.base import Generation, TurnRequest, generate_within_budget
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
        prompts = [
            self.tokenizer.apply_chat_template(r.messages, add_generation_prompt=True, tokenize=True) for r in requests
        ]
        return generate_within_budget(prompts, requests, self.max_context_tokens, self._generate)

    def _generate(self, prompts: list[list[int]], stops: tuple[str, ...]) -> list[Generation]:
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        settings = self.generation
        params = SamplingParams(
            max_tokens=settings.max_new_tokens,
            temperature=settings.temperature,
            top_p=settings.top_p,
            top_k=settings.top_k or -1,
            stop=list(stops),
            include_stop_str_in_output=True,
            logprobs=0,
            seed=self.seed,
        )
        started = time.perf_counter()
        outputs = self.engine.generate([TokensPrompt(prompt_token_ids=p) for p in prompts], params, use_tqdm=False)
        latency = time.perf_counter() - started
        generations = []
        for prompt, output in zip(prompts, outputs, strict=True):
            completion = output.outputs[0]
            ids = list(completion.token_ids)
            logprobs = [step[token].logprob for step, token in zip(completion.logprobs or (), ids, strict=False)]
            generations.append(
                Generation(
                    text=completion.text,
                    context_tokens=len(prompt),
                    generated_tokens=len(ids),
                    latency_s=latency,
                    prompt_ids=prompt,
                    completion_ids=ids,
                    logprobs=logprobs or None,
                )
            )
        return generations
