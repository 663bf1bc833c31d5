"""Importance weights for rollouts sampled by another engine (TRL's vLLM mode).

vLLM samples with its own kernels, so its log-probabilities differ from the training
forward's even at the same weights. The trainer then takes π_old from a forward of the
training model over the packed episodes and reweights each token's surrogate by the
ratio ``π_old / π_vllm``, bounded as TRL's ``vllm_importance_sampling_mode`` says:

- ``token_truncate``: each token's ratio clipped to ``[clip_min, clip_max]``;
- ``token_mask``: tokens whose ratio falls outside are dropped (weight 0);
- ``sequence_truncate`` / ``sequence_mask``: one ratio per *episode* (the product over
  all its generated tokens, every turn), clipped or masked, applied to all its tokens.
"""

from __future__ import annotations

import torch

__all__ = ["IS_MODES", "importance_weights"]

IS_MODES = ("token_truncate", "token_mask", "sequence_truncate", "sequence_mask")


def importance_weights(
    old_logps: torch.Tensor,
    rollout_logps: torch.Tensor,
    completion_mask: torch.Tensor,
    row_episode: torch.Tensor,
    mode: str = "sequence_mask",
    clip_min: float | None = None,
    clip_max: float | None = 3.0,
) -> torch.Tensor:
    """Per-token weights ``(rows, length)``, 0 off the completion tokens.

    ``row_episode`` maps each row to its episode, so per-turn rows of one episode share
    a sequence-level ratio as the masked layout's single row does.
    """
    if mode not in IS_MODES:
        raise ValueError(f"vllm_importance_sampling_mode must be one of {', '.join(IS_MODES)}, got {mode!r}")
    mask = completion_mask.to(old_logps.dtype)
    log_ratio = (old_logps - rollout_logps) * mask
    if mode.startswith("sequence"):
        episodes = row_episode.clamp(min=0)
        per_episode = torch.zeros(int(episodes.max()) + 1, dtype=log_ratio.dtype, device=log_ratio.device)
        per_episode.index_add_(0, episodes, log_ratio.sum(dim=1))
        log_ratio = per_episode[episodes][:, None].expand_as(log_ratio)
    ratio = torch.exp(log_ratio)
    low = clip_min if clip_min is not None else 0.0
    high = clip_max if clip_max is not None else float("inf")
    if mode.endswith("truncate"):
        weights = ratio.clamp(min=low, max=high)
    else:
        weights = ratio * ((ratio >= low) & (ratio <= high)).to(ratio.dtype)
    return weights * mask
