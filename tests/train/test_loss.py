"""The GRPO objective against TRL's own ``GRPOTrainer._compute_loss`` on the same tokens.

TRL's method is called unbound on a stand-in trainer whose forward returns the given
log-probs, so every aggregation, clipping and KL line is TRL's code; envkit's loss must
give the same number (a row being one episode).
"""

from collections import defaultdict
from types import SimpleNamespace

import pytest

from tests.conftest import require


@pytest.fixture(scope="module")
def torch():
    require("torch", "trl")
    import torch

    return torch


def trl_loss(torch, batch, loss_type, **options):
    """TRL's loss; ``options`` as the test's parameters (delta, bias, level, beta, accumulation, ...)."""
    from trl import GRPOTrainer

    delta, bias, level = options.get("delta"), options.get("bias", True), options.get("level", "token")
    beta, accumulation = options.get("beta", 0.0), options.get("accumulation", 1)
    steps_per_generation, entropy_coef = options.get("steps_per_generation", 1), options.get("entropy_coef", 0.0)
    max_completion_length = 16

    logps, old, ref, advantages, mask = batch
    rows, length = logps.shape
    entropies = (-old).clamp(max=5.0)  # any non-negative numbers: TRL averages them over the mask
    trainer = SimpleNamespace(
        _get_per_token_logps_and_entropies=lambda *args, **kwargs: (logps, entropies, None),
        top_entropy_quantile=1.0,
        off_policy_mask_threshold=None,
        importance_sampling_level=level,
        beta=beta,
        args=SimpleNamespace(use_bias_correction_kl=bias, delta=delta, steps_per_generation=steps_per_generation),
        loss_type=loss_type,
        epsilon_low=0.2,
        epsilon_high=0.2,
        use_vllm=False,
        vllm_importance_sampling_correction=False,
        model=SimpleNamespace(training=True),
        current_gradient_accumulation_steps=accumulation,
        max_completion_length=max_completion_length,
        accelerator=SimpleNamespace(
            num_processes=1,
            gather=lambda x: x,
            reduce=lambda x, reduction: x,
            gather_for_metrics=lambda x: x,
            sync_gradients=True,
        ),
        _entropy_bonus_enabled=entropy_coef != 0.0,
        entropy_coef=entropy_coef,
        use_adaptive_entropy=False,
        aux_loss_enabled=False,
        _metrics={"train": defaultdict(list), "eval": defaultdict(list)},
    )
    inputs = {
        "prompt_ids": torch.zeros(rows, 1, dtype=torch.long),
        "prompt_mask": torch.ones(rows, 1, dtype=torch.long),
        "completion_ids": torch.zeros(rows, length, dtype=torch.long),
        "completion_mask": mask.long(),
        "advantages": advantages,
        "old_per_token_logps": old,
        "ref_per_token_logps": ref,
        "num_items_in_batch": mask.sum() * steps_per_generation,  # the generation batch holds this many windows
    }
    return GRPOTrainer._compute_loss(trainer, None, inputs)


def batch(torch, seed=0, rows=6, length=12):
    generator = torch.Generator().manual_seed(seed)
    old = -torch.rand(rows, length, generator=generator) * 3
    logps = old + torch.randn(rows, length, generator=generator) * 0.3  # ratios inside and outside the clip range
    ref = old + torch.randn(rows, length, generator=generator) * 0.2
    advantages = torch.randn(rows, generator=generator)
    lengths = torch.randint(1, length + 1, (rows,), generator=generator)
    mask = torch.arange(length)[None, :] < lengths[:, None]  # episodes of different lengths
    return logps, old, ref, advantages, mask


@pytest.mark.parametrize("loss_type", ["grpo", "bnpo", "dr_grpo", "dapo"])
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"delta": 1.1},
        {"beta": 0.04},
        {"beta": 0.04, "bias": False},
        {"level": "sequence", "beta": 0.04},
        {"accumulation": 4, "steps_per_generation": 2},
        {"entropy_coef": 0.01, "accumulation": 2, "steps_per_generation": 2},
    ],
)
def test_the_loss_is_trls_for_every_loss_type(torch, loss_type, options):
    from envkit.train.loss import LossSettings, grpo_loss

    tokens = batch(torch, seed=len(loss_type) + len(options))
    logps, old, ref, advantages, mask = tokens
    expected = trl_loss(torch, tokens, loss_type, **options)
    accumulation, per_generation = options.get("accumulation", 1), options.get("steps_per_generation", 1)
    settings = LossSettings(
        loss_type=loss_type,
        delta=options.get("delta"),
        beta=options.get("beta", 0.0),
        bias_corrected_kl=options.get("bias", True),
        sequence_ratio=options.get("level") == "sequence",
        max_completion_length=16,
        entropy_coef=options.get("entropy_coef", 0.0),
    )
    window = float(mask.sum()) * per_generation * accumulation / per_generation  # as the trainer rescales it
    entropies = (-old).clamp(max=5.0)
    got, _ = grpo_loss(
        logps,
        old,
        advantages,
        mask,
        settings,
        ref_logps=ref,
        accumulation=accumulation,
        window_tokens=window,
        entropies=entropies,
    )
    assert got.item() == pytest.approx(expected.item(), rel=1e-6, abs=1e-7)


def test_unsupported_loss_types_and_options_are_refused_in_one_line(tmp_path):
    require("trl")
    from envkit.train.config import Mem1GRPOConfig

    common = {"output_dir": str(tmp_path), "max_completion_length": 16, "report_to": "none"}
    for bad, fragment in [
        ({"loss_type": "cispo"}, "loss_type 'cispo' is not supported"),
        ({"top_entropy_quantile": 0.2}, "top_entropy_quantile=0.2 is not supported"),
        ({"off_policy_mask_threshold": 0.5}, "off_policy_mask_threshold=0.5"),
        ({"use_adaptive_entropy": True}, "use_adaptive_entropy=True"),
        ({"multi_objective_aggregation": "normalize_then_sum"}, "multi_objective_aggregation"),
        ({"loss_type": "grpo", "packing": "per_turn"}, "need packing=masked"),
        ({"importance_sampling_level": "sequence", "packing": "per_turn"}, "need packing=masked"),
    ]:
        with pytest.raises(ValueError, match=fragment):
            Mem1GRPOConfig(**common, **bad)
    assert Mem1GRPOConfig(**common).loss_type == "dapo"  # TRL's default, honoured


@pytest.mark.parametrize("scale", ["group", "batch", "none"])
def test_group_advantages_follow_trl_and_leave_unscored_episodes_out(torch, scale):
    """TRL's sum_then_normalize path, with its own nanstd: NaN rewards leave the baseline and get advantage 0."""
    from trl.trainer.utils import nanstd

    from envkit.train.loss import group_advantages

    rewards = torch.tensor([1.0, 0.0, float("nan"), 0.5, 2.0, 2.0, 1.0, float("nan")])
    grouped = rewards.view(-1, 4)
    mean = torch.nanmean(grouped, dim=1).repeat_interleave(4)
    if scale == "batch":
        std = nanstd(rewards).expand_as(rewards)
    else:
        std = torch.stack([nanstd(group) for group in grouped]).repeat_interleave(4)
    expected = rewards - mean
    if scale != "none":
        expected = expected / (std + 1e-4)
    expected = torch.nan_to_num(expected, nan=0.0)
    got = group_advantages(rewards, 4, scale)
    assert torch.allclose(got, expected, atol=1e-6)
    assert got[2] == 0 and got[7] == 0
    if scale != "batch":  # within its group, an unscored episode is as if it had not been played
        scored = group_advantages(torch.tensor([1.0, 0.0, 0.5]), 3, scale)
        assert torch.allclose(got[[0, 1, 3]], scored, atol=1e-6)


def test_kl_reward_penalty_is_verls_k1_reward_summed_over_each_episode(torch):
    """veRL (MEM1's trainer): ``kld = kl_penalty(old_log_probs, ref_log_prob, "kl")`` (= old − ref) masked by the
    response mask, ``token_level_rewards = token_level_scores − β·kld``; GRPO's outcome score is
    ``token_level_rewards.sum(-1)``. An episode played as two turns (two rows) sums both.
    """
    from envkit.train.loss import kl_reward_penalty

    generator = torch.Generator().manual_seed(0)
    old, ref = torch.randn(4, 6, generator=generator), torch.randn(4, 6, generator=generator)
    mask = torch.tensor([[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1], [1, 1, 0, 0, 0, 0], [0] * 6], dtype=torch.bool)
    row_episode = torch.tensor([0, 1, 0, -1])  # episode 0 is rows 0 and 2; row 3 is padding
    scores, beta = torch.tensor([1.0, 0.0]), 0.1
    # veRL's steps, per response: the score sits on the last response token
    verl_scores = []
    for episode in range(2):
        rows = (row_episode == episode).nonzero()[:, 0]
        token_scores = torch.zeros(len(rows), 6)
        token_scores[-1, int(mask[rows[-1]].sum()) - 1] = scores[episode]
        kld = (old[rows] - ref[rows]) * mask[rows]
        verl_scores.append((token_scores - beta * kld).sum())
    penalised = scores - beta * kl_reward_penalty(old, ref, mask, row_episode, 2)
    assert torch.allclose(penalised, torch.stack(verl_scores))
