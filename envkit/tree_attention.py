"""Block-sparse attention for packed prefix-tree rows: only the tiles a turn can see are computed.

A masked-trajectory row (:mod:`envkit.packing`) under the ``consolidated`` context is a
shared prompt with one branch per turn, and each token attends only to its ancestors:
at T = 8 about a fifth of the L×L pairs, at T = 16 an eighth. A dense 4-D mask still
pays for all L² pairs (a masked ``scaled_dot_product_attention`` cannot skip any), so
the prefix tree saved tokens but not attention. Here the row is cut into tiles of
``tile`` positions and each query tile attends only to the key tiles holding at least
one of its ancestors, with the exact mask inside them; fully hidden tiles are never
computed. The result equals the dense-mask attention up to float reassociation.

Two kernels use the same visibility (``visible_until``, one number per token):

- :func:`tiled_attention` (``attention="tiles"``): plain PyTorch over
  ``scaled_dot_product_attention``, forward and backward on any device, CPU included.
  Query tiles that see the same number of key tiles share one call (no padding: a
  causal chain, ``full``, costs its triangle; a ``consolidated`` branch its prompt and
  itself).
- :func:`flex_block_mask` (``attention="flex"``): the same visibility as a
  ``BlockMask`` for PyTorch's FlexAttention, for models loaded with
  ``attn_implementation="flex_attention"`` on a GPU (torch 2.13 has no FlexAttention
  backward on CPU; its forward runs there, which the parity tests use).

:func:`tree_attention_inputs` routes a model's attention through :func:`tiled_attention`
for the forward passes that carry a plan, whatever implementation the model was loaded
with (``sdpa``, ``eager``, ``flash_attention_2``): transformers passes the plan to every
attention layer through its keyword arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

__all__ = [
    "TilePlan",
    "flex_block_mask",
    "own_attention_implementation",
    "tile_plan",
    "tiled_attention",
    "tree_attention_inputs",
]

TREE_ATTENTION = "envkit_tree"  # the name registered with transformers' AttentionInterface


@dataclass(frozen=True, slots=True)
class TileGroup:
    """Query tiles that see the same number of key tiles: one attention call."""

    query_tiles: torch.Tensor  # (m,) flat tile index: row * tiles + query tile
    key_tiles: torch.Tensor  # (m, size) flat index of each key tile it sees
    allowed: torch.Tensor  # (m, 1, tile, size * tile) bool: the exact mask inside those tiles


@dataclass(frozen=True, slots=True)
class TilePlan:
    """Which key tiles each query tile of a batch of packed rows sees; built once per batch, used by every layer."""

    tile: int
    rows: int
    length: int  # the rows' length before padding to whole tiles
    groups: tuple[TileGroup, ...]
    order: torch.Tensor  # (rows * tiles,) where each tile's output sits in the groups' concatenated output

    @property
    def tiles(self) -> int:
        return -(-self.length // self.tile)

    def computed_fraction(self) -> float:
        """Share of the L×L score matrix the kernel computes (a dense mask computes all of it)."""
        computed = sum(g.key_tiles.numel() for g in self.groups) * self.tile * self.tile
        return computed / (self.rows * self.length * self.length)


def _padded_visibility(visible_until: torch.Tensor, length: int) -> torch.Tensor:
    """Extra positions up to a whole tile see themselves only, as padding does."""
    rows, width = visible_until.shape
    if length == width:
        return visible_until
    extra = torch.arange(width + 1, length + 1, device=visible_until.device).expand(rows, -1)
    return torch.cat([visible_until, extra], dim=1)


def tile_plan(visible_until: torch.Tensor, tile: int = 64) -> TilePlan:
    """The key tiles each query tile must attend to; key ``j`` is seen by the queries ``j <= i < visible_until[j]``.

    Key ``j`` is seen by a contiguous run of query tiles (from its own to the one holding
    ``visible_until[j] - 1``), so a key tile is needed by a query tile iff one of its
    keys' runs covers it. Cost: O(rows × L × tiles) booleans, once per batch.
    """
    if tile < 1:
        raise ValueError(f"tile must be at least 1, got {tile}")
    rows, length = visible_until.shape
    tiles = -(-length // tile)
    device = visible_until.device
    visible = _padded_visibility(visible_until, tiles * tile)
    keys = torch.arange(tiles * tile, device=device)
    query_tile = torch.arange(tiles, device=device)
    first, last = (keys // tile)[None, :, None], ((visible - 1) // tile)[:, :, None]
    covers = (first <= query_tile) & (query_tile <= last)  # (rows, key, query tile)
    needed = covers.view(rows, tiles, tile, tiles).any(dim=2).transpose(1, 2)  # (rows, query tile, key tile)
    # one group per exact count (rounding counts up to fewer, larger calls measured no faster on CPU)
    counts = needed.sum(dim=-1)
    offsets = torch.arange(tile, device=device)
    groups = []
    for size in counts.unique().tolist():
        row, query = (counts == size).nonzero(as_tuple=True)
        # the needed tiles, in order: a stable sort of "not needed" puts exactly `size` of them first
        key_tile = torch.sort((~needed[row, query]).to(torch.uint8), dim=-1, stable=True).indices[:, :size]
        key_position = (key_tile[:, :, None] * tile + offsets).reshape(len(row), size * tile)
        query_position = query[:, None] * tile + offsets
        seen_until = visible[row[:, None], key_position]
        allowed = (key_position[:, None, :] <= query_position[:, :, None]) & (
            query_position[:, :, None] < seen_until[:, None, :]
        )
        groups.append(TileGroup(row * tiles + query, row[:, None] * tiles + key_tile, allowed[:, None]))
    order = torch.empty(rows * tiles, dtype=torch.long, device=device)
    order[torch.cat([group.query_tiles for group in groups])] = torch.arange(rows * tiles, device=device)
    return TilePlan(tile, rows, length, tuple(groups), order)


def _as_tiles(states: torch.Tensor, plan: TilePlan) -> torch.Tensor:
    """``(rows, heads, L, dim)`` -> ``(rows * tiles, heads, tile, dim)``."""
    rows, heads, length, dim = states.shape
    states = F.pad(states, (0, 0, 0, plan.tiles * plan.tile - length))
    return states.view(rows, heads, plan.tiles, plan.tile, dim).transpose(1, 2).reshape(-1, heads, plan.tile, dim)


def tiled_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    plan: TilePlan,
    scaling: float | None = None,
    dropout: float = 0.0,
) -> torch.Tensor:
    """Attention of ``(rows, heads, L, dim)`` states under the plan's visibility; returns ``(rows, L, heads, dim)``.

    Grouped-query attention (fewer key/value heads than query heads) is handled by SDPA's
    ``enable_gqa``, without copying keys per query head.
    """
    rows, heads, length, dim = query.shape
    query_tiles, key_tiles, value_tiles = (_as_tiles(x, plan) for x in (query, key, value))
    outputs = []
    for group in plan.groups:
        keys = key_tiles[group.key_tiles].transpose(1, 2).flatten(2, 3)  # (m, kv heads, size * tile, dim)
        values = value_tiles[group.key_tiles].transpose(1, 2).flatten(2, 3)
        outputs.append(
            F.scaled_dot_product_attention(
                query_tiles[group.query_tiles],
                keys,
                values,
                attn_mask=group.allowed,
                dropout_p=dropout,
                scale=scaling,
                enable_gqa=key.shape[1] != heads,
            )
        )
    tiles = torch.cat(outputs)[plan.order]  # (rows * tiles, heads, tile, dim)
    tiles = tiles.view(rows, plan.tiles, heads, plan.tile, dim).transpose(2, 3)
    return tiles.reshape(rows, plan.tiles * plan.tile, heads, dim)[:, :length]


def _eager_of(module: torch.nn.Module) -> Any:
    """The ``eager`` attention function of a module's modeling file (transformers registers no global one)."""
    import sys

    function = getattr(sys.modules[type(module).__module__], "eager_attention_forward", None)
    if function is None:
        raise RuntimeError(f"{type(module).__module__} defines no eager_attention_forward to fall back to")
    return function


def _dispatcher(original: str) -> Any:
    """An attention function: the tiles when the forward carries a plan, else the model's own implementation."""
    from transformers import AttentionInterface

    def attention(
        module: torch.nn.Module,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        attention_mask: torch.Tensor | None,
        dropout: float = 0.0,
        scaling: float | None = None,
        **kwargs: Any,
    ) -> tuple[torch.Tensor, Any]:
        plan = kwargs.pop("tree_plan", None)
        if plan is None:
            if attention_mask is not None and attention_mask.ndim == 4 and attention_mask.numel() == 0:
                raise RuntimeError(
                    f"{type(module).__name__} did not pass the tile plan to its attention (its forward drops "
                    "attention keyword arguments); train it with attention='dense'"
                )
            own: Any = AttentionInterface._global_mapping.get(original) or _eager_of(module)
            return own(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs)
        if kwargs.get("sliding_window") is not None or kwargs.get("softcap") is not None:
            raise ValueError("tree attention supports neither sliding windows nor attention soft-capping; use 'dense'")
        return tiled_attention(query, key, value, plan, scaling, dropout if module.training else 0.0), None

    return attention


def tree_attention_inputs(model: torch.nn.Module, plan: TilePlan) -> dict[str, Any]:
    """Forward arguments that run ``model``'s attention as :func:`tiled_attention` under ``plan``.

    The first call routes the model's attention through a dispatcher (registered with
    transformers as ``envkit_tree_<implementation>``): a forward that carries a plan gets
    the tiles, any other (generation, a padded batch) gets the model's own implementation
    and mask, unchanged. The switch stays, so activation checkpointing, which reruns a
    layer's forward during the backward pass, recomputes the same tiles. The empty 4-D
    ``attention_mask`` tells transformers not to build an L×L mask.
    """
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface

    config: Any = model.config  # any transformers model (a PEFT model forwards .config)
    current = config._attn_implementation or "eager"
    if not current.startswith(TREE_ATTENTION):
        name = f"{TREE_ATTENTION}_{current}"
        AttentionInterface.register(name, _dispatcher(current))
        if current in ALL_MASK_ATTENTION_FUNCTIONS._global_mapping:  # padded generation keeps its masks
            mask_function: Any = ALL_MASK_ATTENTION_FUNCTIONS._global_mapping[current]
            AttentionMaskInterface.register(name, mask_function)
        config._attn_implementation = name
    return {"tree_plan": plan, "attention_mask": torch.empty(plan.rows, 1, 0, 0, device=plan.order.device)}


def own_attention_implementation(model: torch.nn.Module) -> str:
    """The attention implementation the model was loaded with (under the tree dispatcher too)."""
    current = str(getattr(model.config, "_attn_implementation", None) or "eager")  # type: ignore[union-attr]
    return current.removeprefix(f"{TREE_ATTENTION}_")


def flex_block_mask(visible_until: torch.Tensor, block: int = 128) -> Any:
    """The rows' visibility as a FlexAttention ``BlockMask`` (for ``attn_implementation="flex_attention"``)."""
    from torch.nn.attention.flex_attention import create_block_mask

    rows, length = visible_until.shape

    def ancestor(row: torch.Tensor, head: torch.Tensor, query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
        return (key <= query) & (query < visible_until[row, key])

    return create_block_mask(ancestor, rows, None, length, length, device=str(visible_until.device), BLOCK_SIZE=block)
