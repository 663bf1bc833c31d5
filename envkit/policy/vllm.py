"""``VLLMPolicy``: the policy interface on a vLLM engine, for fast batched generation on GPUs.

Same contract as :class:`~envkit.policy.hf.HFPolicy`: contexts rendered with the
tokenizer's chat template (:func:`~envkit.policy.hf.encode_context`), one batched call
per step, generation stopped at the env's action closing tags (kept in the output), a
context over ``max_context_tokens`` returned as ``over_budget`` instead of truncated, and
per-turn token counts, latency and the sampled tokens' log-probabilities.

It takes a model path (it builds its own ``vllm.LLM``) or an engine that already
exists: the trainer hands it the engine TRL's vLLM colocate mode keeps in sync with
the training weights. Install with ``pip install 'mem1-envkit[vllm]'``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from composers.records import Task
from envkit.policy.base import Generation, TurnRequest, generate_within_budget
from envkit.policy.hf import GenerationSettings, encode_context

__all__ = ["VLLMPolicy"]


class VLLMPolicy:
    """A vLLM engine behind the policy interface.

    Args:
        model: a model folder / cached hub id, or a ``vllm.LLM`` to reuse.
        generation: sampling settings.
        max_context_tokens: the budget; a longer context is an ``over_budget`` turn.
        seed: per-prompt sampling seeds ``seed, seed + 1, ...`` (episodes of one task
            still sample differently); ``None`` leaves sampling to the engine.
        tokenizer: the tokenizer whose chat template renders contexts (default: the engine's).
        engine_options: more ``vllm.LLM`` arguments when ``model`` is a path.

    """

    def __init__(
        self,
        model: Any,
        generation: GenerationSettings | None = None,
        max_context_tokens: int = 8192,
        seed: int | None = None,
        tokenizer: Any | None = None,
        **engine_options: Any,
    ) -> None:
        self.generation = generation or GenerationSettings()
        if isinstance(model, str):
            try:
                from vllm import LLM
            except ImportError:  # ModuleNotFoundError naming vllm: the CLI prints the extra in one line
                raise ModuleNotFoundError(
                    "the vLLM back-end needs vllm: pip install 'mem1-envkit[vllm]'", name="vllm"
                ) from None
            engine_options.setdefault("max_model_len", max_context_tokens + self.generation.max_new_tokens)
            model = LLM(model=model, seed=seed or 0, **engine_options)
        self.engine = model
        self.tokenizer = tokenizer if tokenizer is not None else self.engine.get_tokenizer()
        self.max_context_tokens, self.seed = max_context_tokens, seed
        self._sampled = 0

    def start(self, slot: int, task: Task) -> None:
        """Learned policies are not told the task: it is in the prompt."""

    def act(self, requests: Sequence[TurnRequest]) -> list[Generation]:
        """Render each context and sample every turn in one vLLM call."""
        prompts = [encode_context(self.tokenizer, r.messages) for r in requests]
        return generate_within_budget(prompts, requests, self.max_context_tokens, self._generate)

    def _sampling(self, stops: tuple[str, ...], seed: int | None) -> Any:
        from vllm import SamplingParams

        settings = self.generation
        return SamplingParams(
            max_tokens=settings.max_new_tokens,
            temperature=settings.temperature,
            top_p=settings.top_p,
            top_k=settings.top_k or -1,
            stop=list(stops),
            include_stop_str_in_output=True,
            logprobs=0,
            seed=seed,
        )

    def _generate(self, prompts: list[list[int]], stops: tuple[str, ...]) -> list[Generation]:
        if self.seed is None:
            params: Any = self._sampling(stops, None)
        else:  # one seed per prompt: G episodes of one task share their first context
            params = [self._sampling(stops, self.seed + self._sampled + i) for i in range(len(prompts))]
            self._sampled += len(prompts)
        started = time.perf_counter()
        outputs = self.engine.generate([{"prompt_token_ids": p} for p in prompts], params, use_tqdm=False)
        latency = time.perf_counter() - started
        generations = []
        for prompt, output in zip(prompts, outputs, strict=True):
            completion = output.outputs[0]
            ids = list(completion.token_ids)
            logprobs = [step[token].logprob for step, token in zip(completion.logprobs or (), ids, strict=False)]
            generations.append(Generation.sampled(completion.text, prompt, ids, latency, logprobs))
        return generations
