"""The GRPO objective on packed episodes: group-relative advantages and the clipped surrogate.

One advantage per episode (its reward against the other episodes of its task's group)
applies to every generated token of every turn; tokens of prompts and observations are
masked out. The surrogate is PPO's clipped ratio against π_old (the rollout's own
log-probs), plus ``beta`` times the k3 estimate of the KL to a reference model, averaged
over the batch's completion tokens. ``importance_weights`` (TRL's vLLM mode: see
:mod:`envkit.train.importance`) reweight each token's surrogate, not the KL.
"""

from __future__ import annotations

import torch

__all__ = ["group_advantages", "grpo_loss"]


def group_advantages(rewards: torch.Tensor, group_size: int, scale: str = "group") -> torch.Tensor:
    """``reward - mean of its group``, divided by the group's (``group``) or batch's (``batch``) std, or not (``none``).

    ``rewards`` holds consecutive groups of ``group_size`` episodes of the same task.
    """
    if rewards.numel() % group_size:
        raise ValueError(f"{rewards.numel()} rewards do not split into groups of {group_size}")
    grouped = rewards.view(-1, group_size)
    advantages = (grouped - grouped.mean(dim=1, keepdim=True)).view(-1)
    if scale == "group":
        advantages = advantages / (grouped.std(dim=1, keepdim=True).expand_as(grouped).reshape(-1) + 1e-4)
    elif scale == "batch":
        advantages = advantages / (rewards.std() + 1e-4)
    elif scale != "none":
        raise ValueError(f"scale must be group, batch or none, got {scale!r}")
    return advantages


def grpo_loss(
    logps: torch.Tensor,
    old_logps: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    epsilon_low: float = 0.2,
    epsilon_high: float = 0.2,
    beta: float = 0.0,
    ref_logps: torch.Tensor | None = None,
    importance_weights: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The clipped GRPO loss over the masked tokens of ``(rows, length)`` tensors; ``advantages`` is per row."""
    mask = mask.to(logps.dtype)
    tokens = mask.sum().clamp(min=1.0)
    ratio = torch.exp(logps - old_logps)
    advantage = advantages[:, None].to(logps.dtype)
    clipped = torch.clamp(ratio, 1 - epsilon_low, 1 + epsilon_high)
    per_token = -torch.min(ratio * advantage, clipped * advantage)
    stats: dict[str, float] = {}
    if importance_weights is not None:
        per_token = per_token * importance_weights
        stats["importance_weight"] = ((importance_weights * mask).sum() / tokens).item()
    if beta != 0.0:
        if ref_logps is None:
            raise ValueError("beta is set but no reference log-probs were given")
        delta = ref_logps - logps
        kl = torch.exp(delta) - delta - 1
        per_token = per_token + beta * kl
        stats["kl"] = ((kl * mask).sum() / tokens).item()
    loss = (per_token * mask).sum() / tokens
    with torch.no_grad():
        outside = ((ratio < 1 - epsilon_low) & (advantage < 0)) | ((ratio > 1 + epsilon_high) & (advantage > 0))
        stats["clip_ratio"] = ((outside.to(mask.dtype) * mask).sum() / tokens).item()
    return loss, stats
