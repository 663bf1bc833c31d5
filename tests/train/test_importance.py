import math

import pytest

from tests.conftest import require


@pytest.fixture(scope="module")
def torch():
    require("torch")
    import torch

    return torch


def rows(torch):
    """Two episodes: episode 0 in two per-turn rows, episode 1 in one row; the last column is padding."""
    old = torch.tensor([[-1.0, -1.0, 0.0], [-2.0, -0.5, 0.0], [-1.0, -3.0, 0.0]])
    rollout = torch.tensor([[-1.5, -1.0, 0.0], [-1.0, -0.5, 0.0], [-1.0, -1.0, 0.0]])
    mask = torch.tensor([[True, True, False], [True, True, False], [True, True, False]])
    return old, rollout, mask, torch.tensor([0, 0, 1])


def test_token_modes_bound_each_ratio(torch):
    from envkit.train.importance import importance_weights

    old, rollout, mask, episodes = rows(torch)
    truncated = importance_weights(old, rollout, mask, episodes, "token_truncate", clip_min=0.5, clip_max=1.5)
    expected = torch.tensor([[1.5, 1.0, 0.0], [0.5, 1.0, 0.0], [1.0, 0.5, 0.0]])  # e^0.5, 1, e^-1, 1, 1, e^-2
    assert torch.allclose(truncated, expected)
    masked = importance_weights(old, rollout, mask, episodes, "token_mask", clip_min=0.5, clip_max=1.5)
    assert torch.allclose(masked, torch.tensor([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]))


def test_sequence_modes_share_one_ratio_per_episode_across_its_rows(torch):
    from envkit.train.importance import importance_weights

    old, rollout, mask, episodes = rows(torch)
    # episode 0: 0.5 + 0 - 1 + 0 = -0.5 -> e^-0.5; episode 1: 0 - 2 -> e^-2
    weights = importance_weights(old, rollout, mask, episodes, "sequence_truncate", clip_min=None, clip_max=3.0)
    assert torch.allclose(weights[:2, :2], torch.full((2, 2), math.exp(-0.5)))
    assert torch.allclose(weights[2, :2], torch.full((2,), math.exp(-2.0)))
    assert weights[:, 2].abs().sum() == 0  # padding carries nothing
    dropped = importance_weights(old, rollout, mask, episodes, "sequence_mask", clip_min=0.5, clip_max=3.0)
    assert torch.allclose(dropped[:2, :2], torch.full((2, 2), math.exp(-0.5))) and dropped[2].abs().sum() == 0
    with pytest.raises(ValueError, match="vllm_importance_sampling_mode"):
        importance_weights(old, rollout, mask, episodes, "sometimes")


def test_weights_scale_the_surrogate_per_token(torch):
    from envkit.train.loss import grpo_loss

    old, _, mask, _ = rows(torch)
    logps = old + 0.05
    advantages = torch.tensor([1.0, -1.0, 0.5])
    plain, _ = grpo_loss(logps, old, advantages, mask)
    ones, stats = grpo_loss(logps, old, advantages, mask, importance_weights=mask.float())
    assert torch.allclose(plain, ones) and stats["importance_weight"] == pytest.approx(1.0)
    drop_last = mask.float().clone()
    drop_last[2] = 0.0
    dropped, _ = grpo_loss(logps, old, advantages, mask, importance_weights=drop_last)
    first_two, _ = grpo_loss(logps[:2], old[:2], advantages[:2], mask[:2])
    assert torch.allclose(dropped * 6, first_two * 4)  # same token mean denominator, one row's tokens removed
