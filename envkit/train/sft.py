"""``Mem1SFTConfig`` + ``Mem1SFTTrainer``: supervised warm-up on oracle episodes, on TRL's ``SFTTrainer``.

A small model finds almost no reward from scratch: it does not even write the protocol.
The scripted oracle writes perfect turns and the synthetic world gives unlimited
episodes, so the trainer first imitates the oracle. It keeps TRL's SFT loop (optimiser,
schedule, logging, checkpoints, PEFT, accelerate) and replaces what assumes one
sequence per example:

- the dataset: oracle episodes played through the env, the protocol and the context
  builder of the config (:mod:`envkit.train.demonstrations`), one row per episode;
- the collator: each batch of episodes packed as masked trajectories
  (:func:`~envkit.packing.pack_episodes`), so every turn is trained on exactly
  the context the protocol gave it and the loss falls on agent turns only, never on
  the prompt or the observations;
- the loss: the weighted token mean of the negative log-likelihood of the oracle's
  turns (answer turns weighted ``answer_weight``).

``envkit train --model DIR`` continues from the saved folder with GRPO.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import torch
from trl import SFTConfig, SFTTrainer
from trl.trainer.callbacks import RichProgressCallback

from envkit.packing import TurnTokens, pack_episodes, token_logps
from envkit.train.config import EpisodeConfig, ForwardConfig, TrainerDefaults
from envkit.train.demonstrations import demonstration_dataset, oracle_trajectories

__all__ = ["Mem1SFTConfig", "Mem1SFTTrainer"]


@dataclass
class Mem1SFTConfig(EpisodeConfig, ForwardConfig, TrainerDefaults, SFTConfig):  # type: ignore[misc]  # see TrainerDefaults
    """Supervised warm-up on oracle episodes (see the module docstring).

    ``n_tasks`` oracle episodes are played (each a dataset row); ``per_device_train_batch_size``
    counts episodes.
    """

    n_tasks: int = field(default=1000, metadata={"help": "Oracle episodes to imitate (each one a dataset row)."})
    answer_weight: float = field(
        default=2.0, metadata={"help": "Loss weight of the episode's final (answer) turn against 1 for every other."}
    )
    learning_rate: float = field(default=1e-4, metadata={"help": "AdamW's initial learning rate."})
    num_train_epochs: float = field(default=1.0, metadata={"help": "Passes over the oracle episodes."})
    per_device_train_batch_size: int = field(default=4, metadata={"help": "Episodes per device and step."})
    dataset_kwargs: dict[str, Any] | str | None = field(
        default_factory=lambda: {"skip_prepare_dataset": True},
        metadata={"help": "Kept as is: the episodes are tokenized by envkit, not by TRL."},
    )
    remove_unused_columns: bool = field(
        default=False, metadata={"help": "Kept False: the collator reads the episode columns."}
    )

    def __post_init__(self) -> None:
        self.apply_defaults()
        self.check_episodes()
        self.check_forward()
        if self.answer_weight <= 0:
            raise ValueError(f"answer_weight must be positive, got {self.answer_weight}")
        super().__post_init__()


class _EpisodeCollator:
    """Packs a batch of episode rows as masked trajectories."""

    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, rows: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        episodes = [
            [
                TurnTokens(list(p), list(c), [0.0] * len(c), float(w))
                for p, c, w in zip(row["prompt_ids"], row["completion_ids"], row["weights"], strict=True)
            ]
            for row in rows
        ]
        return pack_episodes(episodes, self.pad_id).as_dict()


class Mem1SFTTrainer(SFTTrainer):
    """TRL's SFT on oracle episodes packed as masked trajectories (see the module docstring).

    Args:
        model: a model folder / hub id, or a ``PreTrainedModel``.
        args: the :class:`Mem1SFTConfig`.
        processing_class: the tokenizer (loaded from ``model`` when it is a path).
        make_env: builds the env the oracle plays (default: the config's).
        peft_config: a peft config (LoRA), as in TRL.
        callbacks: more ``TrainerCallback`` s (rich progress is always on).

    """

    _tag_names = ["trl", "sft", "envkit", "mem1"]  # noqa: RUF012 (TRL declares it per instance)
    args: Mem1SFTConfig  # what TRL's Trainer stores, typed as the config this trainer takes

    def __init__(
        self,
        model: Any,
        args: Mem1SFTConfig,
        processing_class: Any | None = None,
        make_env: Callable[[], gym.Env[str, str]] | None = None,
        peft_config: Any | None = None,
        callbacks: Sequence[Any] = (),
    ) -> None:
        from envkit.train.trainer import make_training_env, trainer_tokenizer

        processing_class = trainer_tokenizer(model, processing_class)
        build_env = make_env or (lambda: make_training_env(args))
        trajectories = [
            t
            for t in oracle_trajectories(build_env, args.n_tasks, seed=args.seed, state_tag=args.agent_state_tag)
            if t.success
        ]
        if not trajectories:
            raise ValueError("the oracle solved none of the training tasks: nothing to imitate")
        self.demonstrations = trajectories
        dataset = demonstration_dataset(trajectories, processing_class, args.answer_weight)
        super().__init__(
            model=model,
            args=args,
            train_dataset=dataset,
            processing_class=processing_class,
            data_collator=_EpisodeCollator(processing_class.pad_token_id),
            peft_config=peft_config,
            callbacks=[RichProgressCallback(), *callbacks],
        )
        self.loss_is_scaled_for_ga = False  # type: ignore[assignment]  # TRL declares None; a mean per micro-batch: the Trainer divides it for accumulation

    def compute_loss(
        self, model: Any, inputs: dict[str, torch.Tensor], return_outputs: bool = False, num_items_in_batch: Any = None
    ) -> torch.Tensor:
        if return_outputs:
            raise ValueError("Mem1SFTTrainer does not return outputs")
        logps = token_logps(model, inputs, scoring=self.args.scoring)
        weights = inputs["loss_weights"] * inputs["completion_mask"]
        loss = -(logps * weights).sum() / weights.sum().clamp(min=1e-8)
        mode = "train" if model.training else "eval"
        with torch.no_grad():
            mask = inputs["completion_mask"]
            self._metrics[mode]["mean_token_logprob"].append(((logps * mask).sum() / mask.sum().clamp(min=1)).item())
        return loss
