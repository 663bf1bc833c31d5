"""The GRPO objective on packed episodes: group-relative advantages and the clipped surrogate.

One advantage per episode (its reward against the other episodes of its task's group)
applies to every generated token of every turn; tokens of prompts and observations are
masked out. The surrogate is PPO's clipped ratio against π_old (the rollout's own
log-probs), plus ``beta`` times the k3 estimate of the KL to a reference model, and the
token losses are aggregated as TRL 1.16's ``loss_type`` says (:class:`LossSettings`),
an episode playing the part of TRL's single completion. ``importance_weights`` (TRL's
vLLM mode: see :mod:`envkit.train.importance`) reweight each token's surrogate, not the KL.
Tested against TRL's own ``GRPOTrainer._compute_loss`` on the same tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["LOSS_TYPES", "LossSettings", "group_advantages", "grpo_loss", "kl_reward_penalty"]


def _nanstd(values: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """The unbiased standard deviation of the non-NaN values (NaN with fewer than two)."""
    if dim is None:
        values, dim = values.reshape(-1), 0
    count = (~torch.isnan(values)).sum(dim=dim, keepdim=True)
    variance = torch.nanmean((values - torch.nanmean(values, dim=dim, keepdim=True)) ** 2, dim=dim, keepdim=True)
    return torch.sqrt(variance * count / (count - 1))


def group_advantages(rewards: torch.Tensor, group_size: int, scale: str = "group") -> torch.Tensor:
    """``reward - mean of its group``, divided by the group's (``group``) or batch's (``batch``) std, or not (``none``).

    ``rewards`` holds consecutive groups of ``group_size`` episodes of the same task. A
    NaN reward (an episode every reward function returned ``None`` for) is left out of
    its group's mean and std and gets advantage 0, as TRL does.
    """
    if rewards.numel() % group_size:
        raise ValueError(f"{rewards.numel()} rewards do not split into groups of {group_size}")
    if scale not in ("group", "batch", "none"):
        raise ValueError(f"scale must be group, batch or none, got {scale!r}")
    grouped = rewards.view(-1, group_size)
    advantages = grouped - torch.nanmean(grouped, dim=1, keepdim=True)
    if scale == "group":
        advantages = advantages / (_nanstd(grouped, dim=1) + 1e-4)
    elif scale == "batch":
        advantages = advantages / (_nanstd(rewards) + 1e-4)
    return torch.nan_to_num(advantages.reshape(-1), nan=0.0)


def kl_reward_penalty(
    old_logps: torch.Tensor,
    ref_logps: torch.Tensor,
    mask: torch.Tensor,
    row_episode: torch.Tensor,
    episodes: int,
) -> torch.Tensor:
    """Each episode's summed k1 KL to the reference, ``Σ (log π_old − log π_ref)`` over its completion tokens.

    MEM1 (veRL's ``apply_kl_penalty`` with ``kl_penalty="kl"``) puts the KL in the reward,
    not the loss: token rewards become ``score − β·k1``; under an outcome advantage (GRPO)
    veRL sums them over the response, so an episode's reward drops by ``β`` times this
    sum. Rows map to episodes through ``row_episode`` (``-1``: padding), so one episode
    spread over several rows (``per_turn``) adds up.
    """
    per_row = ((old_logps - ref_logps) * mask).sum(dim=-1)
    penalty = torch.zeros(episodes, dtype=per_row.dtype, device=per_row.device)
    present = row_episode >= 0
    return penalty.index_add_(0, row_episode[present], per_row[present])


LOSS_TYPES = ("grpo", "bnpo", "dr_grpo", "dapo")
"""The loss types of TRL 1.16 this objective computes exactly, a *sequence* being an episode."""


@dataclass(frozen=True, slots=True)
class LossSettings:
    """TRL's loss options, with TRL's meaning (``GRPOConfig``), for episodes instead of single completions.

    Attributes:
        loss_type: how token losses are aggregated (TRL's default ``dapo``):
            ``grpo`` the mean over episodes of each episode's token mean; ``bnpo`` the token
            mean of the micro-batch; ``dr_grpo`` the token sum over ``episodes *
            max_completion_length``; ``dapo`` the token sum over the completion tokens of
            one accumulation window of the whole generation batch (``window_tokens``).
        epsilon_low, epsilon_high: the clipping range of the ratio.
        delta: TRL's two-sided clipping: the unclipped ratio capped at ``delta`` (``None``: off).
        beta: the weight of the k3 KL to the reference.
        bias_corrected_kl: multiply the KL by the ratio (TRL's ``use_bias_correction_kl``, default on).
        sequence_ratio: one ratio per episode, the exp of its mean log-ratio (TRL's
            ``importance_sampling_level="sequence"``); needs one row per episode.
        max_completion_length: the longest turn (``dr_grpo``'s constant).
        entropy_coef: TRL's static entropy bonus: minus this times the mean entropy of the
            completion tokens' predictions (per micro-batch, divided by the accumulation).

    """

    loss_type: str = "dapo"
    epsilon_low: float = 0.2
    epsilon_high: float = 0.2
    delta: float | None = None
    beta: float = 0.0
    bias_corrected_kl: bool = True
    sequence_ratio: bool = False
    max_completion_length: int | None = None
    entropy_coef: float = 0.0

    def __post_init__(self) -> None:
        if self.loss_type not in LOSS_TYPES:
            raise ValueError(f"loss_type {self.loss_type!r} is not supported (use {', '.join(LOSS_TYPES)})")
        if self.loss_type == "dr_grpo" and not self.max_completion_length:
            raise ValueError("loss_type dr_grpo needs max_completion_length")


def _ratio(logps: torch.Tensor, old_logps: torch.Tensor, mask: torch.Tensor, per_sequence: bool) -> torch.Tensor:
    log_ratio = logps - old_logps
    if per_sequence:  # one ratio per row (an episode): its mean log-ratio, broadcast over the row
        log_ratio = ((log_ratio * mask).sum(-1) / mask.sum(-1).clamp(min=1.0))[:, None]
    return torch.exp(log_ratio)


def _aggregate(
    per_token: torch.Tensor,
    mask: torch.Tensor,
    settings: LossSettings,
    accumulation: float,
    window_tokens: float | None,
) -> torch.Tensor:
    """TRL's aggregation of token losses for ``settings.loss_type`` (rows without tokens are not episodes)."""
    if settings.loss_type == "dapo":
        if window_tokens is None:
            raise ValueError("loss_type dapo needs the completion tokens of the accumulation window")
        return (per_token * mask).sum() / max(window_tokens, 1.0)
    if settings.loss_type == "bnpo":
        loss = (per_token * mask).sum() / mask.sum().clamp(min=1.0)
    elif settings.loss_type == "grpo":
        present = mask.sum(-1) > 0
        means = (per_token * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)
        loss = means[present].sum() / present.sum().clamp(min=1)
    else:  # dr_grpo
        episodes = int((mask.sum(-1) > 0).sum())
        loss = (per_token * mask).sum() / (max(episodes, 1) * float(settings.max_completion_length or 1))
    return loss / accumulation


def grpo_loss(
    logps: torch.Tensor,
    old_logps: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    settings: LossSettings | None = None,
    ref_logps: torch.Tensor | None = None,
    importance_weights: torch.Tensor | None = None,
    accumulation: float = 1.0,
    window_tokens: float | None = None,
    entropies: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The clipped GRPO loss over the masked tokens of ``(rows, length)`` tensors, as TRL computes it.

    ``advantages`` is per row. ``accumulation`` is the number of micro-batches of one
    optimizer step (the loss is divided by it, except ``dapo``'s, whose ``window_tokens``
    already counts the window). Default settings: ``bnpo`` when no ``window_tokens`` is
    given (a plain token mean), else TRL's ``dapo``.
    """
    if settings is None:
        settings = LossSettings(loss_type="bnpo" if window_tokens is None else "dapo")
    mask = mask.to(logps.dtype)
    tokens = mask.sum().clamp(min=1.0)
    ratio = _ratio(logps, old_logps, mask, settings.sequence_ratio)
    advantage = advantages[:, None].to(logps.dtype)
    clipped = torch.clamp(ratio, 1 - settings.epsilon_low, 1 + settings.epsilon_high)
    unclipped = ratio if settings.delta is None else torch.clamp(ratio, max=settings.delta)
    per_token = -torch.min(unclipped * advantage, clipped * advantage)
    stats: dict[str, float] = {}
    if importance_weights is not None:
        per_token = per_token * importance_weights
        stats["importance_weight"] = ((importance_weights * mask).sum() / tokens).item()
    if settings.beta != 0.0:
        if ref_logps is None:
            raise ValueError("beta is set but no reference log-probs were given")
        delta = ref_logps - logps
        kl = torch.exp(delta) - delta - 1
        if settings.bias_corrected_kl:  # the unbiased reverse-KL gradient under samples of the old policy
            kl = kl * ratio
        per_token = per_token + settings.beta * kl
        stats["kl"] = ((kl * mask).sum() / tokens).item()
    loss = _aggregate(per_token, mask, settings, accumulation, window_tokens)
    if settings.entropy_coef != 0.0:
        if entropies is None:
            raise ValueError("entropy_coef is set but no entropies were given")
        entropy = (entropies * mask).sum() / tokens
        loss = loss - settings.entropy_coef * entropy / accumulation
        stats["entropy"] = entropy.item()
    with torch.no_grad():
        low, high = 1 - settings.epsilon_low, 1 + settings.epsilon_high
        outside = ((ratio < low) & (advantage < 0)) | ((ratio > high) & (advantage > 0))
        stats["clip_ratio"] = ((outside.to(mask.dtype) * mask).sum() / tokens).item()
        # how far the sampler's log-probs are from this forward's: 0 up to float noise on-policy with exact
        # rollouts; a rollout_dtype copy or later updates on the same batch show here
        stats["logp_gap"] = (((logps - old_logps).abs() * mask).sum() / tokens).item()
    return loss, stats
