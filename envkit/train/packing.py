"""Masked trajectories: a multi-turn episode packed into one training row that reproduces the rollout.

Under the ``consolidated`` context each turn was generated from a context that dropped
older turns, so an episode is not one growing sequence and cannot be trained as one.
:func:`pack_episodes` lays an episode out as

    [shared prefix] [turn 1: rest of its context + its completion] [turn 2: ...] ...

where the prefix is the token prefix every turn's context shares (the chat-templated
task prompt) and each turn block repeats the retained part of the context the protocol
gave the model at generation time. A token of block ``t`` attends to the prefix and to
the earlier tokens of block ``t`` only, and its position id continues from the prefix as
if the block followed it directly (positions restart for every block). The training
forward therefore sees exactly the token sequence each turn was generated from, at the
same positions, and reproduces the rollout's log-probabilities (to ~1e-6 in float32);
MEM1's own layout stores each token once under one global position sequence and drifts.

Rows are kept compact: ``block_ids`` (0 = prefix, ``t`` = turn ``t``, -1 = padding)
stand in for the L×L mask, which :func:`attention_bias` builds per micro-batch as an
additive float mask (a boolean 4-D mask is silently wrong with ``eager`` attention).
``logit_index`` says which row position's logits predict each completion token.

:func:`pack_turns` is the peer layout: one row per turn (the turn's full context and its
completion), the baseline the masked packing is benchmarked against.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from envkit.rollout.trajectory import Trajectory

__all__ = [
    "PackedBatch",
    "TurnTokens",
    "attention_bias",
    "episode_turns",
    "pack_episodes",
    "pack_turns",
    "token_logps",
]

PAD_BLOCK = -1


@dataclass(frozen=True, slots=True)
class TurnTokens:
    """One generated turn: the token ids of its context and of its completion, and the completion's log-probs."""

    prompt_ids: list[int]
    completion_ids: list[int]
    logprobs: list[float]


def episode_turns(trajectory: Trajectory) -> list[TurnTokens]:
    """The model-generated turns of an episode (a refused over-budget turn generated nothing)."""
    turns = []
    for turn in trajectory.turns:
        generation = turn.generation
        if generation is None or not generation.completion_ids:
            continue
        if generation.prompt_ids is None or generation.logprobs is None:
            raise ValueError("a trajectory for training needs the token ids and log-probs of every turn")
        turns.append(TurnTokens(generation.prompt_ids, generation.completion_ids, generation.logprobs))
    return turns


@dataclass(slots=True)
class PackedBatch:
    """Rows ready for a forward pass; every tensor has one row per packed sequence."""

    input_ids: torch.Tensor  # (rows, length) long
    position_ids: torch.Tensor  # (rows, length) long
    block_ids: torch.Tensor  # (rows, length) long: 0 prefix, t >= 1 turn t, -1 padding
    logit_index: torch.Tensor  # (rows, length) long: position whose logits predict this token (completions only)
    completion_mask: torch.Tensor  # (rows, length) bool: the tokens that carry loss
    old_logps: torch.Tensor  # (rows, length) float: the rollout's log-prob of each completion token
    row_episode: torch.Tensor  # (rows,) long: which episode a row belongs to

    def as_dict(self) -> dict[str, torch.Tensor]:
        return {name: getattr(self, name) for name in self.__slots__}  # type: ignore[attr-defined]


def _common_prefix(sequences: Sequence[list[int]]) -> int:
    first = sequences[0]
    length = min(len(s) for s in sequences)
    for index in range(length):
        token = first[index]
        if any(s[index] != token for s in sequences[1:]):
            return index
    return length


@dataclass(slots=True)
class _Row:
    ids: list[int]
    positions: list[int]
    blocks: list[int]
    logit_index: list[int]
    loss: list[bool]
    logps: list[float]
    episode: int


def _episode_row(turns: Sequence[TurnTokens], episode: int) -> _Row:
    # never share a turn's last context token: its logits predict the first completion token
    shared = min(_common_prefix([t.prompt_ids for t in turns]), *(len(t.prompt_ids) - 1 for t in turns))
    prefix = turns[0].prompt_ids[:shared]
    row = _Row(list(prefix), list(range(shared)), [0] * shared, [0] * shared, [False] * shared, [0.0] * shared,
               episode)  # fmt: skip
    for number, turn in enumerate(turns, 1):
        rest = turn.prompt_ids[shared:] + turn.completion_ids
        start = len(row.ids)
        row.ids += rest
        row.positions += range(shared, shared + len(rest))
        row.blocks += [number] * len(rest)
        completion_start = start + len(turn.prompt_ids) - shared
        row.logit_index += [0] * (completion_start - start) + list(range(completion_start - 1, start + len(rest) - 1))
        row.loss += [False] * (completion_start - start) + [True] * len(turn.completion_ids)
        row.logps += [0.0] * (completion_start - start) + list(turn.logprobs)
    return row


def _turn_row(turn: TurnTokens, episode: int) -> _Row:
    ids = turn.prompt_ids + turn.completion_ids
    context = len(turn.prompt_ids)
    return _Row(
        ids,
        list(range(len(ids))),
        [1] * len(ids),
        [0] * context + list(range(context - 1, len(ids) - 1)),
        [False] * context + [True] * len(turn.completion_ids),
        [0.0] * context + list(turn.logprobs),
        episode,
    )


def _stack(rows: Sequence[_Row], pad_id: int, min_rows: int = 1) -> PackedBatch:
    width = max((len(r.ids) for r in rows), default=1)
    rows = list(rows) + [_Row([], [], [], [], [], [], -1)] * max(0, min_rows - len(rows))

    def column(values: list[list], fill: object, dtype: torch.dtype) -> torch.Tensor:
        return torch.tensor([v + [fill] * (width - len(v)) for v in values], dtype=dtype)

    return PackedBatch(
        input_ids=column([r.ids for r in rows], pad_id, torch.long),
        position_ids=column([r.positions for r in rows], 0, torch.long),
        block_ids=column([r.blocks for r in rows], PAD_BLOCK, torch.long),
        logit_index=column([r.logit_index for r in rows], 0, torch.long),
        completion_mask=column([r.loss for r in rows], False, torch.bool),
        old_logps=column([r.logps for r in rows], 0.0, torch.float32),
        row_episode=torch.tensor([r.episode for r in rows], dtype=torch.long),
    )


def pack_episodes(episodes: Sequence[Sequence[TurnTokens]], pad_id: int, min_rows: int = 1) -> PackedBatch:
    """One masked-trajectory row per episode (episodes with no generated turn give an empty row)."""
    rows = [_episode_row(turns, i) if turns else _Row([], [], [], [], [], [], i) for i, turns in enumerate(episodes)]
    return _stack(rows, pad_id, min_rows)


def pack_turns(episodes: Sequence[Sequence[TurnTokens]], pad_id: int, min_rows: int = 1) -> PackedBatch:
    """The peer layout: one row per turn (its whole context, then its completion)."""
    rows = [_turn_row(turn, i) for i, turns in enumerate(episodes) for turn in turns]
    return _stack(rows, pad_id, min_rows)


def attention_bias(block_ids: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """The additive 4-D mask of packed rows: causal, within a block plus the shared prefix.

    Padding positions attend to themselves only, so no softmax row is empty.
    """
    length = block_ids.shape[1]
    causal = torch.ones(length, length, dtype=torch.bool, device=block_ids.device).tril()
    query, key = block_ids[:, :, None], block_ids[:, None, :]
    allowed = causal & ((key == query) | (key == 0)) & (key != PAD_BLOCK) & (query != PAD_BLOCK)
    allowed |= torch.eye(length, dtype=torch.bool, device=block_ids.device)
    bias = torch.zeros(allowed.shape, dtype=dtype, device=block_ids.device)
    bias.masked_fill_(~allowed, torch.finfo(dtype).min)
    return bias[:, None]


def token_logps(model: torch.nn.Module, batch: dict[str, torch.Tensor], temperature: float = 1.0) -> torch.Tensor:
    """Log-probability of every token under ``model`` at the positions ``logit_index`` names (0 elsewhere)."""
    dtype = next(model.parameters()).dtype
    bias = attention_bias(batch["block_ids"], dtype if dtype.is_floating_point else torch.float32)
    logits = model(
        input_ids=batch["input_ids"], attention_mask=bias, position_ids=batch["position_ids"], use_cache=False
    ).logits
    rows, columns = batch["completion_mask"].nonzero(as_tuple=True)
    sources = batch["logit_index"][rows, columns]
    selected = logits[rows, sources].float() / temperature  # (completion tokens, vocab): only what carries loss
    picked = torch.log_softmax(selected, dim=-1).gather(-1, batch["input_ids"][rows, columns][:, None])[:, 0]
    logps = torch.zeros(batch["input_ids"].shape, dtype=torch.float32, device=logits.device)
    logps[rows, columns] = picked
    return logps
