"""``CompletionsServerPolicy``: a model served behind an OpenAI-compatible ``/v1/completions``.

``vllm serve MODEL`` (and TRL's vLLM server mode, which trains against one) speaks this
API. The policy renders each context with the model's own chat template locally and
sends token ids, so what the model reads is exactly what the protocol retained and the
trainer gets the same ids back; the server stops at the env's closing tags and returns
the sampled token ids and their log-probabilities (vLLM's ``return_token_ids`` and
``logprobs=0``). Contexts over ``max_context_tokens`` are refused locally as
``over_budget``, as every model policy does. Many trainer processes or eval workers
can share one server: it batches their requests itself.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from composers.records import Task
from envkit.policy.base import Generation, TurnRequest, generate_within_budget
from envkit.policy.hf import GenerationSettings, encode_context

__all__ = ["CompletionsServerPolicy", "ServerError"]


class ServerError(RuntimeError):
    """The completions server is unreachable or answered with an error."""


class CompletionsServerPolicy:
    """Turns from a completions server at ``base_url`` (e.g. ``http://127.0.0.1:8000``).

    Args:
        base_url: the server's root URL.
        tokenizer: the served model's tokenizer; default: loaded from the model id the
            server reports (a folder or a cached hub id).
        generation: sampling settings.
        max_context_tokens: the budget; a longer context is an ``over_budget`` turn.
        seed: per-prompt sampling seeds ``seed, seed + 1, ...``; ``None`` leaves
            sampling to the server (and sends a batch as one request).
        timeout: seconds a request may take.

    """

    def __init__(
        self,
        base_url: str,
        tokenizer: Any | None = None,
        generation: GenerationSettings | None = None,
        max_context_tokens: int = 8192,
        seed: int | None = None,
        timeout: float = 600.0,
    ) -> None:
        import httpx

        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"a completions server URL starts with http:// or https://, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self._client = httpx.Client(timeout=timeout)
        self.model = self._served_model()
        if tokenizer is None:
            from transformers import AutoTokenizer

            try:
                tokenizer = AutoTokenizer.from_pretrained(self.model)
            except OSError:
                raise ValueError(f"cannot load the tokenizer of {self.model!r}, which {self.base_url} serves; "
                                 "pass tokenizer=") from None  # fmt: skip
        self.tokenizer = tokenizer
        self.generation = generation or GenerationSettings()
        self.max_context_tokens, self.seed = max_context_tokens, seed
        self._sampled = 0

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()

    def start(self, slot: int, task: Task) -> None:
        """Learned policies are not told the task: it is in the prompt."""

    def act(self, requests: Sequence[TurnRequest]) -> list[Generation]:
        """One completions request per batch; contexts over budget are refused, not cut."""
        prompts = [encode_context(self.tokenizer, r.messages) for r in requests]
        return generate_within_budget(prompts, requests, self.max_context_tokens, self._generate)

    # -- HTTP --------------------------------------------------------------------------

    def _request(self, method: str, path: str, **options: Any) -> Any:
        import httpx

        try:
            response = self._client.request(method, f"{self.base_url}{path}", **options)
        except httpx.HTTPError as error:
            raise ServerError(f"completions server {self.base_url}: {type(error).__name__}: {error}") from None
        if response.status_code != 200:
            raise ServerError(f"completions server {self.base_url}{path}: HTTP {response.status_code}: "
                              f"{response.text[:300]}")  # fmt: skip
        return response.json()

    def _served_model(self) -> str:
        models = self._request("GET", "/v1/models").get("data") or []
        if not models:
            raise ServerError(f"completions server {self.base_url} serves no model")
        return str(models[0]["id"])

    def _body(self, prompts: list[list[int]], stops: tuple[str, ...], seed: int | None) -> dict[str, Any]:
        """The request: every sampling setting sent, so the server never fills one from the model's own
        ``generation_config`` (vLLM does, for settings a request leaves out), and the sampled distribution is
        the one the recorded log-probs and the training forward assume.
        """
        settings = self.generation
        body: dict[str, Any] = {
            "model": self.model,
            "prompt": prompts,
            "max_tokens": settings.max_new_tokens,
            "temperature": settings.temperature,
            "top_p": settings.top_p,
            "top_k": settings.top_k or -1,  # vLLM's "every token" (0 also means it in recent versions)
            "min_p": 0.0,
            "repetition_penalty": 1.0,
            "presence_penalty": 0.0,
            "frequency_penalty": 0.0,
            "stop": list(stops),
            "include_stop_str_in_output": True,
            "logprobs": 0,
            "return_token_ids": True,
            "return_tokens_as_token_ids": True,
        }
        if seed is not None:
            body["seed"] = seed
        return body

    def _complete(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        choices = self._request("POST", "/v1/completions", json=body).get("choices") or []
        if len(choices) != len(body["prompt"]):
            raise ServerError(f"completions server {self.base_url}: {len(choices)} choices for "
                              f"{len(body['prompt'])} prompts")  # fmt: skip
        return sorted(choices, key=lambda c: c.get("index", 0))

    def _generate(self, prompts: list[list[int]], stops: tuple[str, ...]) -> list[Generation]:
        started = time.perf_counter()
        if self.seed is None:
            choices = self._complete(self._body(prompts, stops, None))
        else:  # one seed per prompt, so one request per prompt: sent together, batched by the server
            seeds = range(self.seed + self._sampled, self.seed + self._sampled + len(prompts))
            self._sampled += len(prompts)
            with ThreadPoolExecutor(max_workers=min(len(prompts), 32)) as pool:
                bodies = [self._body([p], stops, s) for p, s in zip(prompts, seeds, strict=True)]
                choices = [c[0] for c in pool.map(self._complete, bodies)]
        latency = time.perf_counter() - started
        return [self._generation(prompt, choice, latency) for prompt, choice in zip(prompts, choices, strict=True)]

    def _generation(self, prompt: list[int], choice: dict[str, Any], latency: float) -> Generation:
        ids = choice.get("token_ids")
        if ids is None:
            raise ServerError(f"completions server {self.base_url} returned no token ids (vLLM's return_token_ids)")
        logprobs = (choice.get("logprobs") or {}).get("token_logprobs") or None
        return Generation.sampled(choice.get("text", ""), prompt, ids, latency, logprobs)
