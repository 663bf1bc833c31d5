"""Masked trajectories: a multi-turn episode packed into one training row that reproduces the rollout.

This module is trainer-agnostic (it needs torch, nothing of TRL): give it each episode's
turns as token ids (:class:`TurnTokens`: each turn's exact context, its completion, the
rollout's log-probs and a loss weight) and it returns rows any causal LM can be trained
on (:class:`PackedBatch`). ``Mem1GRPOTrainer`` and ``Mem1SFTTrainer`` use it; so can a
plain PyTorch loop (``examples/packing_plain_torch.py``) or another trainer.

Under the ``consolidated`` context each turn was generated from a context that dropped
older turns, so an episode is not one growing sequence and cannot be trained as one.
:func:`pack_episodes` stores an episode's turns as a token prefix tree laid out in
depth-first order: the context prefix the turns share (the chat-templated task prompt)
once, then for each turn the part of its context that no earlier turn's path holds,
then its completion. Under ``consolidated`` the tree is a prompt with one branch per
turn; under ``full`` each turn's context extends the previous turn's, so the tree is
nearly one chain and each token is stored about once; ``window(k)`` falls in between.

A token attends to itself and its ancestors in the tree only, and its position id is
its depth. The training forward therefore sees exactly the token sequence each turn was
generated from, at the same positions, and reproduces the rollout's log-probabilities
(to ~1e-6 in float32). MEM1's own layout stores each token once under one global
position sequence, so a turn also sees what its context had dropped, and drifts.

Rows are kept compact: in pre-order a subtree is contiguous, so one number per token,
``visible_until`` (the end of its subtree), stands in for the L×L mask, which
:func:`attention_bias` builds per micro-batch as an additive float mask, and
:func:`visibility_blocks` describes as runs of tokens (for a block-sparse kernel).
``logit_index`` says which row position's logits predict each completion token, and
``token_turn`` / ``token_index`` say which turn of the episode, and which token of that
turn's completion, each completion token is (to map per-token results back).

:func:`pack_turns` is the peer layout: one row per turn (the turn's full context and its
completion), the baseline the masked packing is benchmarked against.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from envkit.rollout.trajectory import Trajectory

__all__ = [
    "ATTENTIONS",
    "Block",
    "PackedBatch",
    "Scoring",
    "SingleCompletion",
    "TurnTokens",
    "attention_bias",
    "episode_turns",
    "pack_episodes",
    "pack_turns",
    "single_completion",
    "token_logps",
    "token_logps_and_entropies",
    "visibility_blocks",
]


@dataclass(frozen=True, slots=True)
class TurnTokens:
    """One generated turn: the token ids of its context and of its completion, the completion's log-probs
    (zeros for a demonstration) and the loss weight of its tokens.
    """

    prompt_ids: list[int]
    completion_ids: list[int]
    logprobs: list[float]
    weight: float = 1.0  # the loss weight of each of its tokens (SFT: answer turns can count more)


def episode_turns(trajectory: Trajectory) -> list[TurnTokens]:  # an envkit trajectory; duck-typed
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
    visible_until: torch.Tensor  # (rows, length) long: token j is seen by the queries j <= i < visible_until[j]
    logit_index: torch.Tensor  # (rows, length) long: position whose logits predict this token (completions only)
    completion_mask: torch.Tensor  # (rows, length) bool: the tokens that carry loss
    old_logps: torch.Tensor  # (rows, length) float: the rollout's log-prob of each completion token
    loss_weights: torch.Tensor  # (rows, length) float: each completion token's weight (0 elsewhere)
    token_turn: torch.Tensor  # (rows, length) long: the episode's turn a completion token belongs to (-1 elsewhere)
    token_index: torch.Tensor  # (rows, length) long: its index in that turn's completion (-1 elsewhere)
    row_episode: torch.Tensor  # (rows,) long: which episode a row belongs to

    def as_dict(self) -> dict[str, torch.Tensor]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(slots=True)
class _Row:
    ids: list[int]
    positions: list[int]
    visible_until: list[int]
    logit_index: list[int]
    loss: list[bool]
    logps: list[float]
    weights: list[float]
    turn: list[int]
    index: list[int]
    episode: int


def _empty_row(episode: int) -> _Row:
    return _Row([], [], [], [], [], [], [], [], [], episode)


class _PrefixTree:
    """The turns of one episode as a token prefix tree: each distinct context prefix is stored once.

    Contexts share tree nodes wherever their tokens agree from the start; completion tokens
    always get nodes of their own (they carry loss once per turn), and a later turn whose
    context contains them (``full``, ``window``) runs through them.
    """

    def __init__(self) -> None:
        self.tokens: list[int] = [-1]  # node 0 is the root, which holds no token
        self.parent: list[int] = [0]
        self.children: list[list[int]] = [[]]
        self.edges: dict[tuple[int, int], int] = {}
        self.loss_logp: dict[int, float] = {}
        self.loss_weight: dict[int, float] = {}
        self.loss_place: dict[int, tuple[int, int]] = {}  # node -> (turn, index in its completion)

    def _add(self, parent: int, token: int) -> int:
        node = len(self.children)
        self.tokens.append(token)
        self.parent.append(parent)
        self.children.append([])
        self.children[parent].append(node)
        self.edges[(parent, token)] = node
        return node

    def insert(self, turn: TurnTokens, number: int) -> None:
        node = 0
        for token in turn.prompt_ids:
            node = self.edges.get((node, token)) or self._add(node, token)
        for index, (token, logp) in enumerate(zip(turn.completion_ids, turn.logprobs, strict=True)):
            node = self._add(node, token)
            self.loss_logp[node] = logp
            self.loss_weight[node] = turn.weight
            self.loss_place[node] = (number, index)

    def row(self, episode: int) -> _Row:
        """The tree in depth-first pre-order: a node's ancestors precede it and its subtree follows it."""
        row = _empty_row(episode)
        slot = [0] * len(self.children)  # node -> row position (node 0, the root, has none)
        stack = [(child, 0) for child in reversed(self.children[0])]
        while stack:
            node, depth = stack.pop()
            slot[node] = len(row.ids)
            row.ids.append(self.tokens[node])
            row.positions.append(depth)
            parent = self.parent[node]
            is_loss = node in self.loss_logp
            row.logit_index.append(slot[parent] if is_loss else 0)
            row.loss.append(is_loss)
            row.logps.append(self.loss_logp.get(node, 0.0))
            row.weights.append(self.loss_weight.get(node, 0.0))
            turn, index = self.loss_place.get(node, (-1, -1))
            row.turn.append(turn)
            row.index.append(index)
            stack.extend((child, depth + 1) for child in reversed(self.children[node]))
        # a subtree is contiguous in pre-order: it ends where the next node at the same or a lower depth starts
        row.visible_until = [len(row.ids)] * len(row.ids)
        open_nodes: list[tuple[int, int]] = []  # (position, depth) of nodes whose subtree is still open
        for position, depth in enumerate(row.positions):
            while open_nodes and open_nodes[-1][1] >= depth:
                row.visible_until[open_nodes.pop()[0]] = position
            open_nodes.append((position, depth))
        return row


def _episode_row(turns: Sequence[TurnTokens], episode: int) -> _Row:
    tree = _PrefixTree()
    for number, turn in enumerate(turns):
        if not turn.prompt_ids:
            raise ValueError("a generated turn has an empty context")
        tree.insert(turn, number)
    return tree.row(episode)


def _turn_row(turn: TurnTokens, number: int, episode: int) -> _Row:
    ids = turn.prompt_ids + turn.completion_ids
    context, generated = len(turn.prompt_ids), len(turn.completion_ids)
    return _Row(
        ids,
        list(range(len(ids))),
        [len(ids)] * len(ids),
        [0] * context + list(range(context - 1, len(ids) - 1)),
        [False] * context + [True] * generated,
        [0.0] * context + list(turn.logprobs),
        [0.0] * context + [turn.weight] * generated,
        [-1] * context + [number] * generated,
        [-1] * context + list(range(generated)),
        episode,
    )


def _pad_visibility(rows: list[list[int]], width: int) -> torch.Tensor:
    """Padding positions are visible to themselves only."""
    return torch.tensor([r + list(range(len(r) + 1, width + 1)) for r in rows], dtype=torch.long)


def _stack(rows: Sequence[_Row], pad_id: int, min_rows: int = 1) -> PackedBatch:
    width = max((len(r.ids) for r in rows), default=1)
    rows = list(rows) + [_empty_row(-1)] * max(0, min_rows - len(rows))

    def column(values: list[list], fill: object, dtype: torch.dtype) -> torch.Tensor:
        return torch.tensor([v + [fill] * (width - len(v)) for v in values], dtype=dtype)

    return PackedBatch(
        input_ids=column([r.ids for r in rows], pad_id, torch.long),
        position_ids=column([r.positions for r in rows], 0, torch.long),
        visible_until=_pad_visibility([r.visible_until for r in rows], width),
        logit_index=column([r.logit_index for r in rows], 0, torch.long),
        completion_mask=column([r.loss for r in rows], False, torch.bool),
        old_logps=column([r.logps for r in rows], 0.0, torch.float32),
        loss_weights=column([r.weights for r in rows], 0.0, torch.float32),
        token_turn=column([r.turn for r in rows], -1, torch.long),
        token_index=column([r.index for r in rows], -1, torch.long),
        row_episode=torch.tensor([r.episode for r in rows], dtype=torch.long),
    )


def pack_episodes(episodes: Sequence[Sequence[TurnTokens]], pad_id: int, min_rows: int = 1) -> PackedBatch:
    """One masked-trajectory row per episode (episodes with no generated turn give an empty row)."""
    rows = [_episode_row(turns, i) if turns else _empty_row(i) for i, turns in enumerate(episodes)]
    return _stack(rows, pad_id, min_rows)


def pack_turns(episodes: Sequence[Sequence[TurnTokens]], pad_id: int, min_rows: int = 1) -> PackedBatch:
    """The peer layout: one row per turn (its whole context, then its completion)."""
    rows = [_turn_row(turn, number, i) for i, turns in enumerate(episodes) for number, turn in enumerate(turns)]
    return _stack(rows, pad_id, min_rows)


@dataclass(frozen=True, slots=True)
class SingleCompletion:
    """An episode that is one token chain as one prompt and one completion (the shape TRL's ``rollout_func`` returns).

    ``env_mask`` is 1 at the tokens the model generated (they carry loss) and 0 at the
    tokens the env inserted between turns; ``logprobs`` is the rollout's log-prob of each
    generated token, 0.0 at env tokens.
    """

    prompt_ids: list[int]
    completion_ids: list[int]
    env_mask: list[int]
    logprobs: list[float]


def single_completion(turns: Sequence[TurnTokens]) -> SingleCompletion:
    """The masked-trajectory row of an episode that is one chain, cut into a prompt and a completion.

    When every turn's context starts with the previous turn's context and completion,
    token for token (the ``full`` context, with a chat template that renders each reply
    as the tokens the model wrote), the episode's prefix tree is one chain and its row an
    ordinary causal sequence: a trainer that takes one completion per prompt with an
    environment mask (TRL's ``rollout_func`` with ``env_mask``) then trains it exactly.
    Any other episode (``consolidated``, ``window``, or a reply the template re-tokenises)
    raises ValueError naming the turn and token where it leaves the chain: train those
    with :func:`pack_episodes`.
    """
    if not turns:
        raise ValueError("an episode with no generated turn has no completion")
    for number in range(1, len(turns)):
        before = turns[number - 1].prompt_ids + turns[number - 1].completion_ids
        context = turns[number].prompt_ids
        if context[: len(before)] != before:
            shared = min(len(before), len(context))
            at = next((i for i in range(shared) if before[i] != context[i]), shared)
            raise ValueError(
                f"turn {number + 1}'s context leaves turn {number}'s context and reply at token {at}: "
                "the episode is not one token chain (train it with pack_episodes)"
            )
    row = _episode_row(turns, 0)
    start = row.loss.index(True)
    return SingleCompletion(row.ids[:start], row.ids[start:], [int(x) for x in row.loss[start:]], row.logps[start:])


@dataclass(frozen=True, slots=True)
class Block:
    """A run of row positions ``[start, end)`` that the same queries see: each key ``j`` in it is seen by the
    queries ``j <= i < visible_until`` (causal inside the run, then the rest of its subtree).
    """

    start: int
    end: int
    visible_until: int


def visibility_blocks(visible_until: Sequence[int]) -> list[Block]:
    """One row's visibility as runs of tokens, for a block-sparse attention kernel.

    Consecutive tokens of one tree path close their subtrees at the same position (or
    each at the next token, along a chain of completion tokens); each maximal run with a
    common ``visible_until`` is one :class:`Block`. Together the blocks say exactly what
    :func:`attention_bias` says, in O(blocks) numbers: under ``consolidated`` about two
    per turn (its own context part and its completion) plus the shared prompt.
    """
    blocks: list[Block] = []
    start = 0
    for position in range(1, len(visible_until) + 1):
        if position == len(visible_until) or visible_until[position] != visible_until[start]:
            blocks.append(Block(start, position, int(visible_until[start])))
            start = position
    return blocks


def attention_bias(visible_until: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """The additive 4-D mask of packed rows: query ``i`` sees key ``j`` iff ``j <= i < visible_until[j]``.

    In a prefix tree laid out in pre-order this is "``j`` is ``i`` or one of its ancestors",
    so each token attends to exactly the context it was generated after. Padding sees
    itself only, so no softmax row is empty. (A boolean 4-D mask would be silently wrong
    with ``eager`` attention, hence the additive float form.)
    """
    positions = torch.arange(visible_until.shape[1], device=visible_until.device)
    query, key = positions[None, :, None], positions[None, None, :]
    allowed = (key <= query) & (query < visible_until[:, None, :])
    bias = torch.zeros(allowed.shape, dtype=dtype, device=visible_until.device)
    bias.masked_fill_(~allowed, torch.finfo(dtype).min)
    return bias[:, None]


@dataclass(frozen=True, slots=True)
class Scoring:
    """How the packed forward computes attention and log-probs.

    ``attention``: ``"tiles"`` (block-sparse: only the tiles a turn can see, any device,
    :mod:`envkit.tree_attention`), ``"flex"`` (the same visibility as a FlexAttention
    block mask, for models loaded with ``attn_implementation="flex_attention"``),
    ``"dense"`` (the additive L×L mask of :func:`attention_bias`; not with flash-attention)
    or ``"auto"`` (``flex`` for a FlexAttention model, else ``tiles``).
    ``logit_chunk``: completion tokens per LM-head chunk; each chunk's logits are
    recomputed in the backward pass (activation checkpointing), so the full-vocabulary
    logits of a batch are never held at once (0: one chunk, kept for the backward).
    """

    attention: str = "auto"
    tile: int = 64
    logit_chunk: int = 1024

    def __post_init__(self) -> None:
        if self.attention not in ATTENTIONS:
            raise ValueError(f"unknown attention {self.attention!r}; choose one of: {', '.join(ATTENTIONS)}")
        if self.tile < 1:
            raise ValueError(f"tile must be at least 1, got {self.tile}")
        if self.logit_chunk < 0:
            raise ValueError(f"logit_chunk must be non-negative, got {self.logit_chunk}")


ATTENTIONS = ("auto", "tiles", "flex", "dense")


def token_logps(
    model: torch.nn.Module,
    batch: dict[str, torch.Tensor],
    temperature: float = 1.0,
    scoring: Scoring = Scoring(),
) -> torch.Tensor:
    """Log-probability of every completion token under ``model`` at the positions ``logit_index`` names (0 elsewhere).

    Only the positions that predict a completion token go through the LM head, in chunks
    (:class:`Scoring`): with a large vocabulary the head over every position of a packed
    row would cost as much as the rest of the model and most of the memory.
    """
    return _scored(model, batch, temperature, scoring, entropy=False)[0]


def token_logps_and_entropies(
    model: torch.nn.Module,
    batch: dict[str, torch.Tensor],
    temperature: float = 1.0,
    scoring: Scoring = Scoring(),
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`token_logps`, and the entropy at ``temperature`` of each completion token's prediction (0 elsewhere)."""
    logps, entropies = _scored(model, batch, temperature, scoring, entropy=True)
    assert entropies is not None
    return logps, entropies


def _attention_inputs(model: torch.nn.Module, visible_until: torch.Tensor, scoring: Scoring) -> dict[str, object]:
    """The forward's attention arguments for the chosen kernel."""
    from envkit import tree_attention

    implementation = tree_attention.own_attention_implementation(model)
    attention = scoring.attention
    if attention == "auto":
        attention = "flex" if implementation == "flex_attention" else "tiles"
    if attention == "tiles":
        plan = tree_attention.tile_plan(visible_until, scoring.tile)
        return tree_attention.tree_attention_inputs(model, plan)
    if attention == "flex":
        if implementation != "flex_attention":
            needed = "attention='flex' needs a model loaded with attn_implementation='flex_attention'"
            raise ValueError(f"{needed}, not {implementation!r}")
        return {"attention_mask": tree_attention.flex_block_mask(visible_until)}
    if implementation.startswith("flash"):
        raise ValueError(f"{implementation} cannot take the packed rows' 4-D mask; use attention='tiles'")
    dtype = next(model.parameters()).dtype
    bias = attention_bias(visible_until, dtype if dtype.is_floating_point else torch.float32)
    return {"attention_mask": bias}


_SCALED_HEADS = ("final_logit_softcapping", "logit_scale", "logits_scaling")  # heads that are not a plain linear map


def _plain_head(model: torch.nn.Module) -> torch.nn.Linear | None:
    """The LM head when logits are exactly ``head(decoder(x))``, else None (then the model computes them)."""
    get_head, get_decoder = getattr(model, "get_output_embeddings", None), getattr(model, "get_decoder", None)
    if get_head is None or get_decoder is None:
        return None
    head = get_head()
    config = model.config  # type: ignore[union-attr]
    if not isinstance(head, torch.nn.Linear) or any(getattr(config, name, None) for name in _SCALED_HEADS):
        return None
    return head


def _scores(
    logits: torch.Tensor, targets: torch.Tensor, temperature: float, entropy: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-prob of each target and (when asked) the entropy, from ``(tokens, vocab)`` logits, in float32."""
    log_probs = torch.log_softmax(logits.float() / temperature, dim=-1)
    logps = log_probs.gather(-1, targets[:, None])[:, 0]
    entropies = -(log_probs.exp() * log_probs).sum(dim=-1) if entropy else torch.zeros_like(logps)
    return logps, entropies


def _head_scores(
    hidden: torch.Tensor, targets: torch.Tensor, head: torch.nn.Linear, temperature: float, entropy: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    return _scores(head(hidden), targets, temperature, entropy)


def _chunked_head_scores(
    hidden: torch.Tensor, targets: torch.Tensor, head: torch.nn.Linear, temperature: float, entropy: bool, chunk: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The LM head chunk by chunk; with gradients, each chunk's logits are recomputed in the backward pass."""
    from torch.utils.checkpoint import checkpoint

    chunk = chunk or max(len(targets), 1)
    pieces = []
    for start in range(0, len(targets), chunk):
        args = (hidden[start : start + chunk], targets[start : start + chunk], head, temperature, entropy)
        if torch.is_grad_enabled() and hidden.requires_grad:
            pieces.append(checkpoint(_head_scores, *args, use_reentrant=False))
        else:
            pieces.append(_head_scores(*args))
    if not pieces:
        empty = hidden.new_zeros(0, dtype=torch.float32)
        return empty, empty
    return torch.cat([p[0] for p in pieces]), torch.cat([p[1] for p in pieces])


def _scored(
    model: torch.nn.Module, batch: dict[str, torch.Tensor], temperature: float, scoring: Scoring, entropy: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    rows, columns = batch["completion_mask"].nonzero(as_tuple=True)
    sources = batch["logit_index"][rows, columns]
    targets = batch["input_ids"][rows, columns]
    attention = _attention_inputs(model, batch["visible_until"], scoring)
    inputs = {"input_ids": batch["input_ids"], "position_ids": batch["position_ids"], "use_cache": False, **attention}
    head = _plain_head(model) if scoring.logit_chunk else None
    if head is not None:  # hidden states only; the head runs per chunk of needed positions
        hidden = model.get_decoder()(**inputs).last_hidden_state  # type: ignore[operator]
        logps, entropies = _chunked_head_scores(
            hidden[rows, sources], targets, head, temperature, entropy, scoring.logit_chunk
        )
    else:  # the model's own head, over the needed positions only
        keep = torch.unique(sources)  # sorted
        logits = model(**inputs, logits_to_keep=keep).logits
        if logits.shape[1] == keep.numel():  # the model kept only those positions
            sources = torch.searchsorted(keep, sources)
        logps, entropies = _scores(logits[rows, sources], targets, temperature, entropy)
    token_logps = torch.zeros(batch["input_ids"].shape, dtype=torch.float32, device=targets.device)
    token_logps[rows, columns] = logps
    if not entropy:
        return token_logps, None
    token_entropies = torch.zeros_like(token_logps)
    token_entropies[rows, columns] = entropies
    return token_logps, token_entropies
