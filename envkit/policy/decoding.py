"""Batched sampling with a KV cache that drops rows as they finish: the model policies' decode loop.

``transformers``' ``generate`` keeps every row of a batch in every step until the last
row stops, asks for the whole ``(batch, steps, vocab)`` logits tensor to return
log-probs, and merges the model's own ``generation_config`` (a ``repetition_penalty``
or ``no_repeat_ngram_size`` shipped with a checkpoint) into the sampling, while the
recorded log-probs come from raw logits. For multi-turn rollouts on a CPU that costs
most of the time. :func:`sample` is the loop a rollout needs, nothing more:

- one prefill of the left-padded batch, then one token per step through the cache; the
  prefix all prompts share (the task instructions; a GRPO group's whole prompt) is
  encoded once and its cache copied to every row;
- a row that produced its end-of-sequence token or completed a stop string leaves
  the batch at once (the cache rows are dropped with it), so it costs nothing more;
- sampling follows exactly the :class:`GenerationSettings` given (temperature, top-k,
  top-p; greedy at temperature 0), nothing from the model's config;
- the log-prob of each sampled token is taken from the raw logits at the sampling
  temperature, the quantity the training forward reproduces;
- with a :class:`~envkit.policy.lockstep.Lockstep` (sharded parameters across
  processes), every process runs the same number of forward passes: one that has
  finished, or has no prompt at all, runs idle ones until every process is done.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from envkit.policy.lockstep import Lockstep
from envkit.policy.settings import GenerationSettings

__all__ = ["GenerationSettings", "SampledRow", "sample", "stop_checker"]


@dataclass(slots=True)
class SampledRow:
    """One row's new tokens (the stop token included) and their log-probs."""

    ids: list[int]
    logprobs: list[float]


def stop_checker(tokenizer: Any, stops: Sequence[str]) -> Callable[[list[int]], bool]:
    """True when a row's new tokens end with a completed stop string.

    Only the tail that could hold a stop string is decoded (a token decodes to at least
    one character, so ``len(stop) + 1`` tokens always cover it), which keeps the check
    constant-time per step.
    """
    if not stops:
        return lambda ids: False
    span = max(len(s) for s in stops) + 1

    def stopped(ids: list[int]) -> bool:
        tail = tokenizer.decode(ids[-span:])
        return any(s in tail for s in stops)

    return stopped


def _next_tokens(logits: torch.Tensor, temperature: float, top_k: int, top_p: float, generator: Any) -> torch.Tensor:
    """Sample one token per row from ``(rows, vocab)`` float32 logits (greedy at temperature 0)."""
    if temperature == 0:
        return logits.argmax(dim=-1)
    scores = logits / temperature
    if 0 < top_k < scores.shape[-1]:
        kth = torch.topk(scores, top_k, dim=-1).values[:, -1:]
        scores = scores.masked_fill(scores < kth, float("-inf"))
    if top_p < 1.0:
        ordered, order = torch.sort(scores, descending=True, dim=-1)
        cumulative = torch.softmax(ordered, dim=-1).cumsum(dim=-1)
        drop = cumulative - torch.softmax(ordered, dim=-1) >= top_p  # keep the smallest set reaching top_p
        scores = scores.scatter(-1, order, ordered.masked_fill(drop, float("-inf")))
    return torch.multinomial(torch.softmax(scores, dim=-1), 1, generator=generator)[:, 0]


def _cache_keyword(model: Any) -> str:
    """``cache`` in transformers 5.24+ (``past_key_values`` is deprecated there), ``past_key_values`` before."""
    import inspect

    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def _shared_prefix(prompts: Sequence[list[int]], minimum: int = 16) -> int:
    """Tokens every prompt starts with, leaving each row at least one of its own (0 when under ``minimum``)."""
    if len(prompts) < 2:
        return 0
    first, shortest = prompts[0], min(len(p) for p in prompts)
    length = 0
    while length < shortest - 1 and all(p[length] == first[length] for p in prompts):
        length += 1
    return length if length >= minimum else 0


def _idle_forward(model: Any, pad_id: int) -> None:
    """One forward pass of one token, for its collectives only (sharded parameters gather in every layer)."""
    device = next(model.parameters()).device
    model(input_ids=torch.tensor([[pad_id]], device=device), use_cache=False, logits_to_keep=1)


def _idle_until_all_done(model: Any, pad_id: int, lockstep: Lockstep) -> None:
    """Take part in the other processes' prefill and decode steps without a row of one's own."""
    _idle_forward(model, pad_id)  # their prefill
    while lockstep.any(False):
        _idle_forward(model, pad_id)


@torch.inference_mode()
def sample(
    model: Any,
    prompts: Sequence[list[int]],
    settings: GenerationSettings,
    *,
    pad_id: int,
    eos_ids: set[int],
    stopped: Callable[[list[int]], bool] = lambda ids: False,
    generator: torch.Generator | None = None,
    lockstep: Lockstep | None = None,
) -> list[SampledRow]:
    """Sample a completion for each prompt (token ids); rows leave the batch as they finish.

    A row ends at an id in ``eos_ids``, when ``stopped(new_ids)`` says a stop string is
    complete, or after ``settings.max_new_tokens`` tokens. With ``lockstep``, this process keeps
    running (idle) forward passes until every process has finished its rows.
    """
    from transformers import DynamicCache

    if not prompts:
        if lockstep is not None:
            _idle_until_all_done(model, pad_id, lockstep)
        return []
    device = next(model.parameters()).device
    cache = DynamicCache(config=model.config)
    cache_kw = _cache_keyword(model)
    shared = 0 if lockstep is not None else _shared_prefix(prompts)  # a prefix pass would be one call too many
    if shared:  # the common prefix (instructions, a group's prompt) is encoded once and its cache copied per row
        prefix = torch.tensor([list(prompts[0][:shared])], device=device)
        model(input_ids=prefix, use_cache=True, logits_to_keep=1, **{cache_kw: cache})
        cache.batch_repeat_interleave(len(prompts))
    suffixes = [list(p[shared:]) for p in prompts]
    width = max(len(s) for s in suffixes)
    input_ids = torch.tensor([[pad_id] * (width - len(s)) + s for s in suffixes], device=device)
    attention = torch.tensor([[1] * shared + [0] * (width - len(s)) + [1] * len(s) for s in suffixes], device=device)
    positions = (attention.cumsum(dim=-1) - 1).clamp(min=0)[:, shared:]
    logits = model(
        input_ids=input_ids,
        attention_mask=attention,
        position_ids=positions,
        use_cache=True,
        logits_to_keep=1,  # the LM head on the last position only: over a long prefill it costs a fifth of the time
        **{cache_kw: cache},
    ).logits[:, -1]
    rows = [SampledRow([], []) for _ in prompts]
    max_new_tokens, temperature = settings.max_new_tokens, settings.temperature
    active = list(range(len(prompts)))  # row of each batch position
    next_position = positions[:, -1] + 1
    for step in range(max_new_tokens):
        logits = logits.float()
        tokens = _next_tokens(logits, temperature, settings.top_k, settings.top_p, generator)
        logprobs = torch.log_softmax(logits / (temperature or 1.0), dim=-1).gather(-1, tokens[:, None])[:, 0]
        keep = []
        for position, (row, token, logprob) in enumerate(zip(active, tokens.tolist(), logprobs.tolist(), strict=True)):
            rows[row].ids.append(token)
            rows[row].logprobs.append(logprob)
            if token not in eos_ids and not stopped(rows[row].ids):
                keep.append(position)
        more = bool(keep) and step < max_new_tokens - 1
        if lockstep is not None and lockstep.any(more) and not more:
            _idle_forward(model, pad_id)  # done here, not everywhere: this round's pass, then idle until all are done
            while lockstep.any(False):
                _idle_forward(model, pad_id)
            break
        if not more:
            break
        if len(keep) < len(active):  # finished rows leave the batch and the cache
            index = torch.tensor(keep, device=device)
            cache.batch_select_indices(index)
            attention, tokens, next_position = attention[index], tokens[index], next_position[index]
            active = [active[p] for p in keep]
        attention = torch.cat([attention, attention.new_ones(len(active), 1)], dim=-1)
        logits = model(
            input_ids=tokens[:, None],
            attention_mask=attention,
            position_ids=next_position[:, None],
            use_cache=True,
            **{cache_kw: cache},
        ).logits[:, -1]
        next_position = next_position + 1
    return rows
