"""``HFPolicy``: a transformers causal LM behind the policy interface, held to the protocol.

For a batch of turn requests it renders each context (the messages the protocol's
context builder retained) with the tokenizer's chat template, samples the whole batch
at once through :func:`envkit.policy.decoding.sample` (the prefix all contexts share
encoded once, each row leaving the batch when it ends), stops each row at the first
closing tag of an env action (``</search>``, ``</answer>``, ``</action>``...) and
returns the turns. Sampling follows the :class:`GenerationSettings` alone, never the
model's own ``generation_config``.

It never feeds the model more than the protocol allows: the context is exactly what
:class:`~envkit.envs.wrappers.ProtocolContext` retained, and a context longer than
``max_context_tokens`` is not generated from at all but returned as ``over_budget``
(the rollout runner records the violation and ends the episode), never truncated.

Each generation records its context tokens, generated tokens and latency, the token
ids of prompt and completion and the completion's log-probabilities (from the raw
logits at the sampling temperature: what the trainer's forward must reproduce) and,
on CUDA, the peak GPU memory of the batch.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from composers.records import Task
from envkit.policy.base import Generation, TurnRequest, generate_within_budget, through_first_stop
from envkit.policy.decoding import GenerationSettings
from envkit.policy.lockstep import Lockstep
from envkit.protocol.context import Message, open_turn, render_messages

__all__ = ["GenerationSettings", "HFPolicy", "choose_device", "encode_context", "render_context"]


def _render_closed(tokenizer: Any, messages: Sequence[Message]) -> str:
    """Closed messages up to the model's turn: the chat template with its generation prompt, or plain text."""
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=False)
    return render_messages(messages) + "\n\n"


def render_context(tokenizer: Any, messages: Sequence[Message]) -> str:
    """The exact text a model reads for a context: its chat template (or plain text), then any open turn's pieces."""
    closed, pieces = open_turn(messages)
    return _render_closed(tokenizer, closed) + "".join(pieces)


def encode_context(tokenizer: Any, messages: Sequence[Message]) -> list[int]:
    """Token ids of a rendered context (the chat template's own special tokens included).

    The pieces of an open assistant turn (the ``continued`` layout) are encoded one by one
    after the rendered prompt, as MEM1's rollout encodes its responses and observations,
    so a model trained there reads the very ids it was trained on. Every model policy
    (local, vLLM, a completions server) sends these ids, so the trainer sees the same
    tokens whichever engine sampled the turn.
    """
    closed, pieces = open_turn(messages)
    ids: list[int] = tokenizer(_render_closed(tokenizer, closed), add_special_tokens=False)["input_ids"]
    for piece in pieces:
        ids.extend(tokenizer(piece, add_special_tokens=False)["input_ids"])
    return ids


def choose_device(device: str = "auto") -> tuple[str, Any]:
    """``auto``: CUDA with bfloat16 when there is a GPU, else CPU with float32."""
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device.startswith("cuda") and torch.cuda.is_bf16_supported() else torch.float32
    return device, dtype


class HFPolicy:
    """A Hugging Face causal LM that writes protocol turns for a batch of episodes.

    Args:
        model: a ``transformers`` causal LM (moved to ``device``).
        tokenizer: its tokenizer; its chat template is used when it has one, else the
            messages are joined as plain text (as :func:`render_messages` shows them).
        generation: sampling settings.
        max_context_tokens: the budget; a longer context is an ``over_budget`` turn.
        device: ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda:1"``...
        seed: seeds torch's generator before each batch when given (reproducible runs).
        lockstep: with parameters sharded across processes (ZeRO-3, FSDP), keeps every
            process's forward passes in step (:mod:`envkit.policy.lockstep`): each call
            of :meth:`act`, with requests or none, takes part in every decode step.
        reuse_turn_tokens: when a turn's context extends the episode's last context and
            reply as text (the ``full`` context), feed the very ids the model read and
            wrote for them and encode only what the env added, instead of re-encoding the
            whole text. A sampled reply is not always the canonical encoding of its text
            (SmolLM2 at temperature 1: 2 of 24 turns), so re-encoding can change tokens the
            model already saw; with this the episode stays one token chain, as TRL's and
            vLLM's multi-turn rollouts keep it (what ``envkit.packing.single_completion``
            needs). Contexts that do not extend the last one are encoded as usual.

    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        generation: GenerationSettings | None = None,
        max_context_tokens: int = 8192,
        device: str = "auto",
        seed: int | None = None,
        lockstep: Lockstep | None = None,
        reuse_turn_tokens: bool = False,
    ) -> None:
        if max_context_tokens < 1:
            raise ValueError(f"max_context_tokens must be at least 1, got {max_context_tokens}")
        self.device, _ = choose_device(device)
        self.model = model.to(self.device)
        self.tokenizer = tokenizer
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.generation = generation or GenerationSettings()
        self.max_context_tokens = max_context_tokens
        self.seed = seed
        self.lockstep = lockstep
        self.reuse_turn_tokens = reuse_turn_tokens
        self._chains: dict[int, tuple[str, list[int]]] = {}  # slot -> the text read and written so far, and its ids

    @classmethod
    def from_pretrained(
        cls,
        spec: str,
        device: str = "auto",
        *,
        attn_implementation: str | None = None,
        device_map: str | dict[str, Any] | None = None,
        **options: Any,
    ) -> HFPolicy:
        """Load a model spec (``smollm2``, ``tiny``, a folder or a cached hub id): bfloat16 on CUDA, float32 on CPU.

        ``attn_implementation`` (``sdpa``, ``eager``, ``flash_attention_2``, ``flex_attention``)
        and ``device_map`` (e.g. ``"auto"`` to spread a large model over GPUs) go to
        ``from_pretrained``; other options to the policy.
        """
        from envkit.policy.models import load_model

        device, dtype = choose_device(device)
        model, tokenizer = load_model(
            spec, device, dtype, attn_implementation=attn_implementation, device_map=device_map
        )
        if device_map is not None:
            device = str(next(model.parameters()).device)  # inputs go where the first layers are
        return cls(model, tokenizer, device=device, **options)

    # -- the policy interface --------------------------------------------------------

    def start(self, slot: int, task: Task) -> None:
        """Learned policies are not told the task (it is in the prompt); a new episode starts a new token chain."""
        self._chains.pop(slot, None)

    def render(self, messages: Sequence[Message]) -> str:
        """The exact text the model reads for a context."""
        return render_context(self.tokenizer, messages)

    def encode(self, messages: Sequence[Message]) -> list[int]:
        """Token ids of a rendered context (the chat template's own special tokens included)."""
        return encode_context(self.tokenizer, messages)

    def act(self, requests: Sequence[TurnRequest]) -> list[Generation]:
        """Render each context with the chat template and sample every turn in one batched decode loop."""
        if not self.reuse_turn_tokens:
            prompts = [self.encode(r.messages) for r in requests]
            return self._within_budget(prompts, requests)
        texts = [self.render(r.messages) for r in requests]
        prompts = [self._chained_ids(r.slot, text, r.messages) for r, text in zip(requests, texts, strict=True)]
        generations = self._within_budget(prompts, requests)
        for request, text, generation in zip(requests, texts, generations, strict=True):
            written = generation.completion_ids or []
            read = generation.prompt_ids or []
            self._chains[request.slot] = (text + self.tokenizer.decode(written), [*read, *written])
        return generations

    def _within_budget(self, prompts: list[list[int]], requests: Sequence[TurnRequest]) -> list[Generation]:
        if self.lockstep is not None and all(len(p) > self.max_context_tokens for p in prompts):
            self._generate([], ())  # nothing to generate here: take part in the other processes' steps
        return generate_within_budget(prompts, requests, self.max_context_tokens, self._generate)

    def _chained_ids(self, slot: int, text: str, messages: Sequence[Message]) -> list[int]:
        """The slot's chain so far plus the ids of the added text when the context extends it, else a fresh encoding."""
        chain = self._chains.get(slot)
        if chain is None or not text.startswith(chain[0]):
            return self.encode(messages)
        return chain[1] + self.tokenizer(text[len(chain[0]) :], add_special_tokens=False)["input_ids"]

    # -- generation ------------------------------------------------------------------

    def _generate(self, prompts: list[list[int]], stops: tuple[str, ...]) -> list[Generation]:
        import torch

        from envkit.policy.decoding import sample, stop_checker

        cuda = str(self.device).startswith("cuda")
        if cuda:
            torch.cuda.reset_peak_memory_stats(self.device)
        if self.seed is not None:
            torch.manual_seed(self.seed)
        started = time.perf_counter()
        rows = sample(
            self.model,
            prompts,
            self.generation,
            pad_id=self.tokenizer.pad_token_id,
            eos_ids={self.tokenizer.eos_token_id, self.tokenizer.pad_token_id},
            stopped=stop_checker(self.tokenizer, stops),
            lockstep=self.lockstep,
        )
        latency = time.perf_counter() - started
        peak = int(torch.cuda.max_memory_allocated(self.device)) if cuda else None
        return [
            Generation.sampled(self._turn_text(row.ids, stops), prompt, row.ids, latency, row.logprobs, peak)
            for prompt, row in zip(prompts, rows, strict=True)
        ]

    def _turn_text(self, ids: list[int], stops: tuple[str, ...]) -> str:
        """The turn as the env reads it: special tokens dropped, nothing after the stop tag."""
        return through_first_stop(self.tokenizer.decode(ids, skip_special_tokens=True), stops)
