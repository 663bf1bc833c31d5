"""``Mem1GRPOTrainer``: TRL's GRPO trainer over multi-turn envkit episodes, trained on masked trajectories.

TRL's ``GRPOTrainer`` extends multi-turn only by appending to one growing completion,
which cannot express a context that *drops* turns. This trainer keeps TRL's loop,
sampler (G episodes per task), reward functions, logging, checkpointing, PEFT and
accelerate/DeepSpeed set-up, and replaces the three parts that assume one completion
per prompt:

- ``_generate_and_score_completions``: plays each batch row's task as a whole episode
  through the :class:`~envkit.rollout.runner.RolloutRunner` and
  :class:`~envkit.policy.hf.HFPolicy` (the protocol and its context builder decide what
  the model sees each turn), scores episodes with the reward functions, turns rewards
  into group-relative advantages and packs the episodes (:mod:`envkit.packing`);
- ``compute_loss``: the clipped GRPO surrogate (plus ``beta`` × KL to the reference) on
  every model-generated token of every turn, one advantage per episode; prompts and
  observations carry no loss;
- the log-probabilities: a forward over masked trajectories reproduces the rollout's
  own, so the rollout's log-probs serve as π_old. With ``rollout_dtype`` a cast copy of
  the weights samples (bfloat16 decodes faster on a CPU); its log-probs still serve as
  π_old and their distance to the training forward's is logged as ``logp_gap``.

With TRL's vLLM mode (``use_vllm``) the turns are sampled by vLLM instead: the colocated
engine through :class:`~envkit.policy.vllm.VLLMPolicy`, or a vLLM server through
:class:`~envkit.policy.completions.CompletionsServerPolicy` (each process sends its own
requests, so processes whose episodes end sooner wait for no one). TRL syncs the
weights before each rollout; π_old then comes from a forward of the training model and
the vLLM log-probs enter only the importance weights (:mod:`envkit.train.importance`).

Where the pieces live: rollouts in :mod:`envkit.rollout`, packing in
:mod:`envkit.packing`, the loss in :mod:`envkit.train.loss`; this class wires them.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

import gymnasium as gym
import torch
from datasets import Dataset
from trl import GRPOTrainer
from trl.models.utils import unwrap_model_for_generation
from trl.trainer.callbacks import RichProgressCallback

from envkit.envs import TASK_FILE_ENV_ID
from envkit.packing import episode_turns, pack_episodes, pack_turns, token_logps, token_logps_and_entropies
from envkit.policy.completions import CompletionsServerPolicy
from envkit.policy.hf import GenerationSettings, HFPolicy
from envkit.policy.lockstep import DistributedLockstep
from envkit.policy.models import cast_copy
from envkit.policy.vllm import VLLMPolicy
from envkit.rollout.runner import RolloutRunner
from envkit.rollout.trajectory import Trajectory
from envkit.train.config import Mem1GRPOConfig
from envkit.train.curriculum import Curriculum
from envkit.train.importance import importance_weights
from envkit.train.loss import LossSettings, group_advantages, grpo_loss, kl_reward_penalty
from envkit.train.rewards import env_reward, format_reward

if TYPE_CHECKING:
    from envkit.train.sft import Mem1SFTConfig

__all__ = ["Mem1GRPOTrainer", "make_training_env", "trainer_tokenizer"]


def make_training_env(args: Mem1GRPOConfig | Mem1SFTConfig, **overrides: Any) -> gym.Env[str, str]:
    """The env the config describes: its task file, or tasks composed from its source."""
    options: dict[str, Any] = {"context": args.context, "protocol": args.protocol}
    given = {
        "corpus": args.corpus,
        "retriever": args.retriever,
        "top_k": args.top_k,
        "max_turns": args.max_turns,
        "state_tag": args.state_tag,
    }
    options.update({name: value for name, value in given.items() if value is not None})
    n_objectives = overrides.pop("n_objectives", args.n_objectives)
    options.update(overrides)
    if args.task_file is not None:
        return gym.make(TASK_FILE_ENV_ID, task_file=args.task_file, **options)
    return gym.make(
        args.env_id,
        source=args.source,
        n_objectives=n_objectives,
        strategy=args.strategy,
        split="train",
        seed=args.seed,
        count=args.n_tasks,
        **options,
    )


def trainer_tokenizer(model: Any, tokenizer: Any | None) -> Any:
    """The tokenizer a trainer uses: the one given, or the model folder's; with a padding token."""
    if tokenizer is None:
        from transformers import AutoTokenizer

        if not isinstance(model, str):
            raise ValueError("pass processing_class (the tokenizer) with a model object")
        tokenizer = AutoTokenizer.from_pretrained(model)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


class Mem1GRPOTrainer(GRPOTrainer):
    """GRPO on envkit episodes (see the module docstring).

    Args:
        model: a model folder / hub id, or a ``PreTrainedModel``.
        args: the :class:`Mem1GRPOConfig`.
        processing_class: the tokenizer (loaded from ``model`` when it is a path).
        reward_funcs: TRL reward functions over episodes; default: the env's reward,
            plus the format reward when ``args.format_reward_weight`` is set.
        make_env: builds the rollout env (default: :func:`make_training_env` of ``args``).
        peft_config: a peft config (default: LoRA when ``args.lora_r > 0``).
        callbacks: more ``TrainerCallback`` s (rich progress is always on).

    """

    _tag_names = ["trl", "grpo", "envkit", "mem1"]  # noqa: RUF012 (TRL declares it per instance)
    args: Mem1GRPOConfig  # what TRL's Trainer stores, typed as the config this trainer takes

    def __init__(
        self,
        model: Any,
        args: Mem1GRPOConfig,
        processing_class: Any | None = None,
        reward_funcs: Sequence[Callable[..., list[float]]] | None = None,
        make_env: Callable[[], gym.Env[str, str]] | None = None,
        peft_config: Any | None = None,
        callbacks: Sequence[Any] = (),
    ) -> None:
        processing_class = trainer_tokenizer(model, processing_class)
        processing_class.padding_side = "left"
        if reward_funcs is None:
            reward_funcs = [env_reward] + ([format_reward] if args.format_reward_weight else [])
            if args.reward_weights is None:
                args.reward_weights = [args.env_reward_weight] + (
                    [args.format_reward_weight] if args.format_reward_weight else []
                )
        if peft_config is None and args.lora_r > 0:
            from peft import LoraConfig

            targets = args.lora_target_modules
            peft_config = LoraConfig(
                r=args.lora_r,
                lora_alpha=args.lora_alpha,
                lora_dropout=args.lora_dropout,
                target_modules=targets if targets == "all-linear" else [t.strip() for t in targets.split(",")],
                task_type="CAUSAL_LM",
            )
        if make_env is not None and args.n_schedule is not None:
            raise ValueError("n_schedule builds an env for each N from the config: pass make_env or n_schedule")
        self._curriculum = Curriculum.parse(args.n_schedule or str(args.n_objectives))
        self._runners: dict[int, RolloutRunner] = {}
        first = self._curriculum.n_at(0)
        build_env = make_env or (lambda: make_training_env(args, n_objectives=first))
        self._runner = self._runners[first] = RolloutRunner(
            build_env, _NoPolicy(), args.rollout_batch_size, seed=args.seed
        )
        tasks = self._runner.n_tasks
        train_dataset = Dataset.from_dict({"prompt": [f"task {i}" for i in range(tasks)], "task_index": range(tasks)})
        self._pad_token_id = int(processing_class.pad_token_id)
        super().__init__(
            model=model,
            reward_funcs=cast(list[Any], list(reward_funcs)),
            args=args,
            train_dataset=train_dataset,
            processing_class=processing_class,
            peft_config=peft_config,
            callbacks=[RichProgressCallback(), *callbacks],
        )
        self.trajectories: list[Trajectory] = []  # the latest generation batch, for inspection
        self._rollout_copy: torch.nn.Module | None = None  # the sampler's weights when rollout_dtype is set
        if args.rollout_dtype is not None and self.accelerator.num_processes > 1:
            raise ValueError("rollout_dtype keeps a second copy of the weights in one process: use it single-process")
        self.loss_settings = LossSettings(
            loss_type=args.loss_type,
            epsilon_low=self.epsilon_low,
            epsilon_high=self.epsilon_high,
            delta=args.delta,
            beta=0.0 if args.kl_in_reward else self.beta,  # in the reward instead (MEM1's way)
            bias_corrected_kl=args.use_bias_correction_kl,
            sequence_ratio=args.importance_sampling_level == "sequence",
            max_completion_length=args.max_completion_length,
            entropy_coef=args.entropy_coef,
        )

    # -- rollouts ----------------------------------------------------------------------

    def _generation_settings(self) -> GenerationSettings:
        longest = self.args.max_completion_length
        if longest is None:
            raise ValueError("max_completion_length must be set: it is the longest turn a policy may write")
        return GenerationSettings(
            max_new_tokens=longest,
            temperature=self.temperature,
            top_p=self.top_p,
            top_k=max(0, self.top_k or 0),
        )

    def _runner_for(self, n: int) -> RolloutRunner:
        """The runner of N-objective episodes (one per N the curriculum reaches, built when first reached)."""
        if n not in self._runners:
            args = self.args
            self._runners[n] = RolloutRunner(
                lambda: make_training_env(args, n_objectives=n), _NoPolicy(), args.rollout_batch_size, seed=args.seed
            )
        return self._runners[n]

    def _rollout(self, task_indices: list[int]) -> list[Trajectory]:
        self._runner = self._runner_for(self._curriculum.n_at(self.state.global_step))
        if self.use_vllm:
            return self._vllm_rollout(task_indices)
        settings = self._generation_settings()
        gather = self.args.ds3_gather_for_generation
        with unwrap_model_for_generation(
            self.model_wrapped, self.accelerator, gather_deepspeed3_params=gather
        ) as model:
            was_training = model.training
            model.eval()
            try:
                device = str(self.accelerator.device)
                # several processes (ZeRO-3, FSDP: every forward is a collective) decode in step until all are done
                lockstep = DistributedLockstep(device) if self.accelerator.num_processes > 1 else None
                self._runner.policy = HFPolicy(
                    self._sampling_model(model),
                    self.processing_class,
                    settings,
                    self.args.max_context_tokens,
                    device=device,
                    lockstep=lockstep,
                )
                self._runner.lockstep = lockstep
                return self._runner.run(task_indices)
            finally:
                self._runner.lockstep = None
                model.train(was_training)

    @torch.no_grad()
    def _sampling_model(self, model: torch.nn.Module) -> torch.nn.Module:
        """The model that samples: ``model`` itself, or its copy in ``rollout_dtype`` with today's weights."""
        if self.args.rollout_dtype is None:
            return model
        if self._rollout_copy is None:
            self._rollout_copy = cast_copy(model, getattr(torch, self.args.rollout_dtype))
        else:
            for mine, current in zip(self._rollout_copy.parameters(), model.parameters(), strict=True):
                mine.copy_(current)
        return self._rollout_copy.eval()

    def _vllm_rollout(self, task_indices: list[int]) -> list[Trajectory]:
        """Episodes sampled by TRL's vLLM engine (colocate) or server, after syncing the weights."""
        generation = self.vllm_generation
        sleeping = getattr(generation, "_llm_weights_sleeping", False)  # sleep level 2 dropped the weights
        if self.state.global_step != self._last_loaded_step or sleeping:
            generation.sync_weights()  # wakes the weights up again in sleep mode
            self._last_loaded_step = self.state.global_step
        self.accelerator.wait_for_everyone()  # the server holds the new weights before anyone samples
        settings, budget = self._generation_settings(), self.args.max_context_tokens
        if generation.mode == "server":
            if not isinstance(self._runner.policy, CompletionsServerPolicy):
                url = (
                    self.args.vllm_server_base_url
                    or f"http://{self.args.vllm_server_host}:{self.args.vllm_server_port}"
                )
                self._runner.policy = CompletionsServerPolicy(url, self.processing_class, settings, budget,
                                                              timeout=self.args.vllm_server_timeout)  # fmt: skip
            return self._runner.run(task_indices)
        if generation.enable_sleep_mode:
            generation.llm.wake_up(tags=["kv_cache"])
        try:
            self._runner.policy = VLLMPolicy(generation.llm, settings, budget, tokenizer=self.processing_class)
            return self._runner.run(task_indices)
        finally:
            if generation.enable_sleep_mode:
                generation.llm.sleep(level=2)
                generation._llm_weights_sleeping = True

    def _model(self) -> torch.nn.Module:
        """The policy model (TRL types ``self.model`` as optional; it is set once the trainer is built)."""
        assert self.model is not None
        return self.model

    def _generate_and_score_completions(self, inputs: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        device = self.accelerator.device
        mode = "train" if self._model().training else "eval"
        trajectories = self._rollout([int(row["task_index"]) for row in inputs])
        self.trajectories = trajectories
        self._metrics[mode]["objectives"].append(float(trajectories[0].n_objectives) if trajectories else 0.0)
        if mode == "train" and trajectories:
            self._curriculum.observe(sum(t.reward for t in trajectories) / len(trajectories))
        episodes = [
            {**row, "env_reward": t.reward, "violations": t.violations, "turns": max(1, len(t.turns)),
             "em_sum": t.em_sum or 0.0, "success": float(t.success)}
            for row, t in zip(inputs, trajectories, strict=True)
        ]  # fmt: skip
        prompts = [t.turns[0].context[0]["content"] if t.turns else "" for t in trajectories]
        completions = ["\n".join(turn.output for turn in t.turns) for t in trajectories]
        turns = [episode_turns(t) for t in trajectories]
        completion_ids = [[i for turn in episode for i in turn.completion_ids] for episode in turns]
        per_func = self._calculate_rewards(episodes, prompts, completions, completion_ids)  # gathered over processes
        rewards = (per_func * self.reward_weights.to(device).unsqueeze(0)).nansum(dim=1)
        rewards[torch.isnan(per_func).all(dim=1)] = torch.nan  # unscored by every function: out of the baseline
        local = slice(self.accelerator.process_index * len(inputs), (self.accelerator.process_index + 1) * len(inputs))

        chunks = int(self.args.steps_per_generation or 1) if mode == "train" else 1  # TRL sets it in __post_init__
        if self.args.packing == "masked":
            packed = pack_episodes(turns, self._pad_token_id, chunks)
        else:
            rows = sum(len(t) for t in turns)
            packed = pack_turns(turns, self._pad_token_id, -(-max(rows, 1) // chunks) * chunks)
        batch = {name: tensor.to(device) for name, tensor in packed.as_dict().items()}
        if self.use_vllm:  # vLLM's kernels are not the training forward's: π_old from the model, vLLM's for IS
            rollout_logps = batch["old_logps"]
            batch["old_logps"] = self._forward_logps(batch, reference=False)
            if self.args.vllm_importance_sampling_correction:
                batch["importance_weights"] = importance_weights(
                    batch["old_logps"],
                    rollout_logps,
                    batch["completion_mask"],
                    batch["row_episode"],
                    self.args.vllm_importance_sampling_mode,
                    self.args.vllm_importance_sampling_clip_min,
                    self.args.vllm_importance_sampling_clip_max,
                )
        if self.beta != 0.0:
            batch["ref_logps"] = self._forward_logps(batch, reference=True)
        if self.args.kl_in_reward and self.beta != 0.0:  # MEM1's KL: the episode's reward pays β·Σ k1
            penalty = kl_reward_penalty(
                batch["old_logps"], batch["ref_logps"], batch["completion_mask"], batch["row_episode"], len(inputs)
            )
            penalty = self.accelerator.gather(penalty)  # every process's episodes, in the rewards' order
            rewards = rewards - self.beta * penalty
            self._metrics[mode]["kl_penalty"].append(penalty.mean().item())
        advantages = group_advantages(rewards, int(self.num_generations or 1), self.scale_rewards)[local]
        if self.args.mask_truncated_completions:  # TRL's option, per episode: one that ran out of turns or context
            truncated = torch.tensor([t.truncated for t in trajectories] + [False], device=device)
            batch["completion_mask"] &= ~truncated[batch["row_episode"]][:, None]
        batch["advantages"] = advantages[batch["row_episode"].clamp(min=0)] * (batch["row_episode"] >= 0)
        batch["num_items_in_batch"] = self.accelerator.gather(batch["completion_mask"].sum()).sum()  # as TRL: dapo
        self._log_episodes(mode, trajectories, rewards, per_func)
        return batch

    @torch.no_grad()
    def _forward_logps(self, batch: dict[str, torch.Tensor], reference: bool) -> torch.Tensor:
        """Token log-probs of the packed rows under the reference model (or the PEFT base) or the current model."""
        rows = self.args.per_device_train_batch_size
        parts = []
        for start in range(0, batch["input_ids"].shape[0], rows):
            chunk = {k: v[start : start + rows] for k, v in batch.items() if v.ndim > 0}
            if not reference:
                parts.append(token_logps(self._model(), chunk, self.temperature, self.args.scoring))
            elif self.ref_model is not None:
                parts.append(token_logps(self.ref_model, chunk, self.temperature, self.args.scoring))
            else:  # PEFT: the base model is the reference
                with self.accelerator.unwrap_model(self.model).disable_adapter():
                    parts.append(token_logps(self._model(), chunk, self.temperature, self.args.scoring))
        return torch.cat(parts)

    def _log_episodes(
        self, mode: str, trajectories: list[Trajectory], rewards: torch.Tensor, per_func: torch.Tensor
    ) -> None:
        metrics = self._metrics[mode]
        metrics["reward"].append(torch.nanmean(rewards).item())
        scored = rewards[~torch.isnan(rewards)]
        metrics["reward_std"].append(scored.std().item() if scored.numel() > 1 else 0.0)
        for index, name in enumerate(self.reward_func_names):
            metrics[f"rewards/{name}/mean"].append(torch.nanmean(per_func[:, index]).item())
        metrics["episode/em_sum"].append(statistics.fmean(t.em_sum or 0.0 for t in trajectories))
        metrics["episode/success"].append(statistics.fmean(t.success for t in trajectories))
        metrics["episode/turns"].append(statistics.fmean(len(t.turns) for t in trajectories))
        metrics["episode/violations"].append(statistics.fmean(t.violations for t in trajectories))
        metrics["episode/peak_context_tokens"].append(statistics.fmean(t.peak_context_tokens for t in trajectories))
        metrics["episode/generated_tokens"].append(statistics.fmean(t.generated_tokens for t in trajectories))

    # -- loss --------------------------------------------------------------------------

    def compute_loss(self, model: Any, inputs: dict[str, torch.Tensor], return_outputs: bool = False,
                     num_items_in_batch: Any = None) -> torch.Tensor:  # fmt: skip
        if return_outputs:
            raise ValueError("Mem1GRPOTrainer does not return outputs")
        mode = "train" if self._model().training else "eval"
        entropies = None
        if self.loss_settings.entropy_coef:
            logps, entropies = token_logps_and_entropies(model, inputs, self.temperature, self.args.scoring)
        else:
            logps = token_logps(model, inputs, self.temperature, self.args.scoring)
        accumulation = float(self.current_gradient_accumulation_steps) if mode == "train" else 1.0
        window = None  # dapo: the completion tokens of one accumulation window, as TRL rescales num_items_in_batch
        if self.loss_settings.loss_type == "dapo":
            window = float(inputs["num_items_in_batch"]) / self.accelerator.num_processes
            if mode == "train":
                window = window * accumulation / int(self.args.steps_per_generation or 1)
        loss, stats = grpo_loss(
            logps,
            inputs["old_logps"],
            inputs["advantages"],
            inputs["completion_mask"],
            self.loss_settings,
            ref_logps=inputs.get("ref_logps"),
            importance_weights=inputs.get("importance_weights"),
            accumulation=accumulation,
            window_tokens=window,
            entropies=entropies,
        )
        for name, value in stats.items():
            self._metrics[mode][name].append(value)
        return loss


class _NoPolicy:
    """The runner's policy before the first rollout (each rollout installs the current model's)."""

    def start(self, slot: int, task: Any) -> None:
        raise RuntimeError("no policy: rollouts install one")

    def act(self, requests: Sequence[Any]) -> list[Any]:
        raise RuntimeError("no policy: rollouts install one")
