import math

import pytest

from tests.conftest import SMALL_WORLD, require


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    require("torch", "transformers", "tokenizers", "trl", "peft")
    from envkit.policy.tiny import save_tiny_model

    return str(save_tiny_model(tmp_path_factory.mktemp("model") / "tiny"))


def shorter_turns(prompts, completions, **_):
    """A reward the random-init model's episodes differ on (env rewards are all 0 for it)."""
    return [-len(c) / 100 for c in completions]


def config(tmp_path, **overrides):
    from envkit.train import Mem1GRPOConfig

    options = dict(
        output_dir=str(tmp_path / "out"), source=SMALL_WORLD, n_objectives=2, n_tasks=20, max_steps=3,
        per_device_train_batch_size=4, num_generations=4, max_completion_length=16, max_turns=3,
        learning_rate=5e-3, lr_scheduler_type="constant", rollout_batch_size=8, seed=0, save_steps=2,
    )  # fmt: skip
    options.update(overrides)
    return Mem1GRPOConfig(**options)


def params(model):
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def test_config_defaults_fit_a_cpu_and_bad_values_are_named(tmp_path):
    import torch

    args = config(tmp_path)
    assert args.bf16 == (torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    assert args.activation_checkpointing is False and args.disable_tqdm
    for bad, fragment in [({"packing": "zigzag"}, "packing"), ({"context": "rolling"}, "unknown context builder"),
                          ({"n_objectives": 0}, "n_objectives"), ({"num_generations": 1}, "at least 2 generations"),
                          ({"use_vllm": True, "vllm_tensor_parallel_size": 2}, "needs vllm_mode=server"),
                          ({"vllm_importance_sampling_mode": "x"}, "vllm_importance_sampling_mode"),
                          ({"temperature": 0.0}, "temperature must be positive"),
                          ({"protocol": "mem2"}, "unknown protocol")]:  # fmt: skip
        with pytest.raises(ValueError, match=fragment):
            config(tmp_path, **bad)


def test_vllm_mode_without_vllm_installed_says_so(tmp_path, tiny_folder):
    import importlib.util

    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vllm is installed here")
    from envkit.train import Mem1GRPOTrainer

    for mode in ("colocate", "server"):
        with pytest.raises(ImportError, match="vLLM is not available"):
            Mem1GRPOTrainer(tiny_folder, config(tmp_path, use_vllm=True, vllm_mode=mode))


@pytest.mark.slow
def test_real_trainer_steps_log_rewards_and_change_parameters(tmp_path, tiny_folder):
    from envkit.rollout.trajectory import Trajectory
    from envkit.train import Mem1GRPOTrainer
    from envkit.train.rewards import env_reward

    trainer = Mem1GRPOTrainer(tiny_folder, config(tmp_path), reward_funcs=[env_reward, shorter_turns])
    before = params(trainer.model)
    trainer.train()
    after = params(trainer.model)
    assert sum(not (before[n] == after[n]).all() for n in before) > len(before) // 2
    logs = [entry for entry in trainer.state.log_history if "reward" in entry]
    assert len(logs) == 3
    for entry in logs:
        assert entry["rewards/shorter_turns/mean"] < 0 and entry["rewards/env_reward/mean"] == 0.0
        assert entry["reward_std"] > 0 and math.isfinite(entry["loss"])
        assert entry["episode/turns"] <= 3 and entry["episode/peak_context_tokens"] > 0
    assert trainer.state.global_step == 3
    assert len(trainer.trajectories) == 4 and isinstance(trainer.trajectories[0], Trajectory)
    assert (tmp_path / "out" / "checkpoint-2" / "trainer_state.json").is_file()


@pytest.mark.slow
def test_a_checkpoint_resumes_to_the_same_state(tmp_path, tiny_folder):
    from transformers import TrainerCallback

    from envkit.train import Mem1GRPOTrainer
    from envkit.train.rewards import env_reward

    first = Mem1GRPOTrainer(tiny_folder, config(tmp_path, max_steps=2), reward_funcs=[env_reward, shorter_turns])
    first.train()
    saved = params(first.model)

    class AtStart(TrainerCallback):
        def on_train_begin(self, args, state, control, model=None, **kwargs):
            self.step, self.params = state.global_step, params(model)

    start = AtStart()
    resumed = Mem1GRPOTrainer(tiny_folder, config(tmp_path, max_steps=3), reward_funcs=[env_reward, shorter_turns],
                              callbacks=[start])  # fmt: skip
    resumed.train(resume_from_checkpoint=True)  # the newest checkpoint in output_dir: checkpoint-2
    assert start.step == 2
    assert all((saved[n] == p).all() for n, p in start.params.items())
    assert resumed.state.global_step == 3
    assert any(not (saved[n] == p).all() for n, p in params(resumed.model).items())


@pytest.mark.slow
def test_masked_and_per_turn_packing_give_the_same_loss(tmp_path, tiny_folder):
    import torch

    from envkit.train import Mem1GRPOTrainer
    from envkit.train.rewards import env_reward

    losses = {}
    for packing in ("masked", "per_turn"):
        trainer = Mem1GRPOTrainer(tiny_folder, config(tmp_path / packing, packing=packing),
                                  reward_funcs=[env_reward, shorter_turns])  # fmt: skip
        batch = trainer._generate_and_score_completions([{"prompt": f"task {i}", "task_index": i} for i in
                                                         (0, 0, 0, 0)])  # fmt: skip
        losses[packing] = trainer.compute_loss(trainer.model, batch)
        torch.manual_seed(0)
    # same seed, same model, same tasks: same episodes, so the two layouts must agree on the loss
    assert losses["masked"].item() == pytest.approx(losses["per_turn"].item(), abs=1e-5)


@pytest.mark.slow
def test_lora_trains_only_the_adapter_and_beta_adds_a_kl_term(tmp_path, tiny_folder):
    from envkit.train import Mem1GRPOTrainer
    from envkit.train.rewards import env_reward

    args = config(tmp_path, lora_r=4, beta=0.05, max_steps=2, save_steps=100)
    trainer = Mem1GRPOTrainer(tiny_folder, args, reward_funcs=[env_reward, shorter_turns])
    before = params(trainer.model)
    trainer.train()
    changed = {n for n, p in params(trainer.model).items() if not (before[n] == p).all()}
    assert changed and all("lora_" in n for n in changed)
    assert all("kl" in e for e in trainer.state.log_history if "reward" in e)


@pytest.mark.slow
def test_envkit_train_cli_runs_and_reports_bad_config_in_one_line(tmp_path):
    from tests.cli.test_cli import assert_one_line_error, envkit

    recipe = f"source: '{SMALL_WORLD}'\nn_tasks: 8\nmax_steps: 1\nnum_generations: 2\nper_device_train_batch_size: 2\n"
    (tmp_path / "train.yaml").write_text(recipe + "max_completion_length: 8\nmax_turns: 2\n")
    out = tmp_path / "run"
    result = envkit("train", "--config", str(tmp_path / "train.yaml"), "--output_dir", str(out),
                    "--report_to", "tensorboard")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (out / "model.safetensors").is_file() and list((out / "runs").glob("*/events.out.tfevents.*"))
    (tmp_path / "bad.yaml").write_text("max_steps: [1, 2\n")
    assert_one_line_error(envkit("train", "--config", str(tmp_path / "bad.yaml")), "invalid YAML")
    assert_one_line_error(envkit("train", "--packing", "zigzag"), "packing must be one of")
    assert_one_line_error(envkit("train", "--max_steps", "many"), "max_steps")
    assert_one_line_error(envkit("train", "--resume", str(tmp_path / "nowhere")), "no such checkpoint")
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        vllm_run = envkit("train", "--model", "tiny", "--use_vllm", "true", "--output_dir", str(tmp_path / "v"))
        assert_one_line_error(vllm_run, "vLLM is not available")


@pytest.mark.slow
def test_mask_truncated_completions_drops_the_loss_of_episodes_that_ran_out_of_turns(tmp_path, tiny_folder):
    from envkit.train import Mem1GRPOTrainer

    rows = [{"prompt": f"task {i}", "task_index": i // 4} for i in range(4)]
    for masked in (False, True):
        args = config(tmp_path, mask_truncated_completions=masked)
        trainer = Mem1GRPOTrainer(tiny_folder, args, reward_funcs=[shorter_turns])
        batch = trainer._generate_and_score_completions(rows)
        truncated = [t.truncated for t in trainer.trajectories]
        assert any(truncated)  # the random-init model never answers within 3 turns
        carries = batch["completion_mask"].any(dim=1).tolist()
        for row, episode in enumerate(batch["row_episode"].tolist()):
            if episode >= 0:
                assert carries[row] == (not (masked and truncated[episode]))
        assert int(batch["num_items_in_batch"]) == int(batch["completion_mask"].sum())


@pytest.mark.slow
def test_an_entropy_bonus_trains_and_is_logged(tmp_path, tiny_folder):
    from envkit.train import Mem1GRPOTrainer

    args = config(tmp_path, max_steps=1, entropy_coef=0.01, save_strategy="no")
    trainer = Mem1GRPOTrainer(tiny_folder, args, reward_funcs=[shorter_turns])
    trainer.train()
    logged = next(entry for entry in trainer.state.log_history if "entropy" in entry)
    assert logged["entropy"] > 0 and math.isfinite(logged["loss"])


@pytest.mark.slow
def test_kl_in_reward_charges_each_episode_beta_times_its_k1_sum(tmp_path, tiny_folder):
    """MEM1's KL (veRL's apply_kl_penalty): the reward pays β·Σ(log π_old − log π_ref) before the group baseline."""
    import torch

    from envkit.train import Mem1GRPOTrainer
    from envkit.train.loss import group_advantages

    rows = [{"prompt": f"task {i}", "task_index": i // 4} for i in range(8)]
    beta = 0.5
    args = config(tmp_path, beta=beta, kl_in_reward=True, per_device_train_batch_size=8, rollout_batch_size=8)
    trainer = Mem1GRPOTrainer(tiny_folder, args, reward_funcs=[shorter_turns])
    assert trainer.loss_settings.beta == 0.0  # not also in the loss
    with torch.no_grad():  # move the policy away from the reference, so the KL is not zero
        generator = torch.Generator().manual_seed(0)
        for parameter in trainer.model.parameters():
            parameter.add_(torch.randn(parameter.shape, generator=generator) * 0.05)
    batch = trainer._generate_and_score_completions(rows)
    k1 = (batch["old_logps"] - batch["ref_logps"]) * batch["completion_mask"]
    penalty = torch.zeros(8).index_add_(0, batch["row_episode"], k1.sum(dim=1))
    assert penalty.abs().min() > 1e-3
    completions = ["\n".join(turn.output for turn in t.turns) for t in trainer.trajectories]
    rewards = torch.tensor(shorter_turns(None, completions)) - beta * penalty
    expected = group_advantages(rewards, 4)
    got = batch["advantages"][batch["row_episode"] >= 0]  # one row per episode, in order
    assert torch.allclose(got, expected, atol=1e-4)
    assert not torch.allclose(got, group_advantages(rewards + beta * penalty, 4), atol=1e-3)


def test_kl_in_reward_without_a_kl_weight_is_refused(tmp_path):
    require("trl")
    with pytest.raises(ValueError, match="kl_in_reward needs a KL weight"):
        config(tmp_path, kl_in_reward=True)


@pytest.mark.slow
def test_an_n_schedule_raises_the_objectives_by_step(tmp_path, tiny_folder):
    """'1:1,2:2,3': step 0 plays N=1, step 1 N=2, step 2 N=3 (the episodes the trainer played say so)."""
    from envkit.train import Mem1GRPOTrainer

    args = config(tmp_path, max_steps=3, n_schedule="1:1,2:2,3", save_strategy="no", logging_steps=1)
    trainer = Mem1GRPOTrainer(tiny_folder, args, reward_funcs=[shorter_turns])
    played = []
    original = trainer._rollout

    def recording(task_indices):
        trajectories = original(task_indices)
        played.append({t.n_objectives for t in trajectories})
        return trajectories

    trainer._rollout = recording
    trainer.train()
    assert played == [{1}, {2}, {3}]
    assert [entry["objectives"] for entry in trainer.state.log_history if "objectives" in entry] == [1.0, 2.0, 3.0]


def test_a_reward_bound_moves_the_curriculum_on_when_reached():
    from envkit.train.curriculum import Curriculum, parse_n_schedule

    curriculum = Curriculum.parse("2:r0.5,4:r0.9,8")
    assert curriculum.n_at(0) == 2
    curriculum.observe(0.4)
    assert curriculum.n_at(10) == 2  # steps do not move a reward-bound stage
    curriculum.observe(0.5)
    assert curriculum.n_at(11) == 4
    curriculum.observe(0.95)
    assert curriculum.n_at(12) == 8
    curriculum.observe(1.0)
    assert curriculum.n_at(13) == 8  # the last stage has no bound
    steps = Curriculum.parse("2:200,4:400,8")
    assert [steps.n_at(s) for s in (0, 199, 200, 399, 400, 10_000)] == [2, 2, 4, 4, 8, 8]
    for bad, fragment in [
        ("2,4", "needs a bound"),
        ("2:10,4:5,8", "must increase"),
        ("2:10,4:20", "the last stage takes no bound"),
        ("0:5,2", "bad stage '0:5'"),
        ("2:x,4", "bad stage"),
    ]:
        with pytest.raises(ValueError, match=fragment):
            parse_n_schedule(bad)


@pytest.mark.slow
def test_a_bad_n_schedule_is_refused_in_one_line(tmp_path):
    from tests.cli.test_cli import assert_one_line_error, envkit

    with pytest.raises(ValueError, match="takes no task_file"):
        config(tmp_path, n_schedule="2:5,4", task_file=str(tmp_path / "tasks.jsonl"))
    assert_one_line_error(envkit("train", "--n_schedule", "2,4", "--output_dir", str(tmp_path / "o")), "n_schedule")


@pytest.mark.slow
def test_a_bfloat16_rollout_copy_samples_with_the_current_weights(tmp_path, tiny_folder):
    import torch

    from envkit.train import Mem1GRPOTrainer
    from envkit.train.rewards import env_reward

    rewards = [env_reward, shorter_turns]
    exact = Mem1GRPOTrainer(tiny_folder, config(tmp_path / "exact", max_steps=2), reward_funcs=rewards)
    exact.train()
    args = config(tmp_path / "bf16", max_steps=2, rollout_dtype="bfloat16")
    trainer = Mem1GRPOTrainer(tiny_folder, args, reward_funcs=rewards)
    trainer.train()
    sampler = trainer._rollout_copy
    assert sampler is not None and trainer._runner.policy.model is sampler
    assert {p.dtype for p in sampler.parameters()} == {torch.bfloat16}
    assert all(b.dtype == torch.float32 for b in sampler.buffers() if b.is_floating_point())
    trainer._sampling_model(trainer.model)  # the next rollout's sync: the weights after the last update
    for mine, current in zip(sampler.parameters(), trainer.model.parameters(), strict=True):
        assert torch.equal(mine, current.detach().to(torch.bfloat16))
    # exact rollouts: the sampler's log-probs are the training forward's up to float noise
    assert all(e["logp_gap"] < 1e-4 for e in exact.state.log_history if "logp_gap" in e)
    assert sum("logp_gap" in e for e in trainer.state.log_history) == 2
    with pytest.raises(ValueError, match="rollout_dtype must be one of"):
        config(tmp_path, rollout_dtype="int8")
