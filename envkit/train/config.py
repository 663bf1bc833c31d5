"""``Mem1GRPOConfig``: TRL's ``GRPOConfig`` plus what a multi-turn envkit episode needs.

Every field carries its help text in ``metadata`` (as TRL's configs do), so ``envkit
train`` takes each one as a flag or a YAML key and ``envkit train --list-options`` prints
them. TRL's own fields keep their meaning: ``num_generations`` is the group size G
(episodes per task), ``max_completion_length`` the longest *turn*, ``temperature`` /
``top_p`` / ``top_k`` the sampling of every turn, ``beta`` the KL weight, ``epsilon`` the
clipping range, ``per_device_train_batch_size`` counts episodes.

Two of TRL's defaults change: ``bf16`` is on only where a CUDA GPU supports it (TRL
turns it on everywhere, which costs parity on CPU), and ``gradient_checkpointing`` is off
unless asked for (``activation_checkpointing``, transformers 5's name: it helps 7B models
on GPUs, not the tiny CPU model). ``report_to`` (transformers' own field) names the loggers; progress is a rich
display instead of tqdm bars.

TRL's loss options keep TRL's meaning, an episode standing for TRL's single completion:
``loss_type`` (``grpo``, ``bnpo``, ``dr_grpo``, ``dapo``; TRL's default ``dapo``), ``delta``,
``use_bias_correction_kl``, ``importance_sampling_level``, ``mask_truncated_completions``
(an episode that ran out of turns or context carries no loss) and ``entropy_coef`` (TRL's
static entropy bonus, one of MEM1's settings). ``kl_in_reward`` applies ``beta`` as MEM1
did: a k1 penalty on each episode's reward (veRL's ``use_kl_in_reward``) instead of
TRL's k3 term in the loss. Options this trainer does not implement
(other loss types, ``top_entropy_quantile``, ``off_policy_mask_threshold``, the adaptive
entropy controller, ``multi_objective_aggregation="normalize_then_sum"``, Liger) are refused
in one line when set, never dropped.

TRL's vLLM mode works as in TRL: ``use_vllm`` with ``vllm_mode=colocate`` (an engine in
each training process) or ``server`` (``vllm serve`` / ``trl vllm-serve`` elsewhere,
``vllm_server_base_url``); weights are synced before each rollout, π_old comes from the
training forward and ``vllm_importance_sampling_*`` reweight the tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from trl import GRPOConfig

if TYPE_CHECKING:
    from envkit.packing import Scoring

__all__ = ["PACKINGS", "EpisodeConfig", "ForwardConfig", "Mem1GRPOConfig", "TrainerDefaults"]

PACKINGS = ("masked", "per_turn")

ROLLOUT_DTYPES = ("bfloat16", "float16", "float32")  # what a rollout_dtype sampler may be cast to

# TRL options this trainer does not implement: refused in one line when changed from TRL's default, never dropped
_UNSUPPORTED = {
    "top_entropy_quantile": (1.0, "it needs every position's entropy, which the packed forward does not compute"),
    "off_policy_mask_threshold": (None, "off-policy sequence masking is not implemented for episodes"),
    "use_adaptive_entropy": (False, "the adaptive entropy controller is not implemented (entropy_coef is)"),
    "multi_objective_aggregation": ("sum_then_normalize", "rewards are summed with their weights, then normalised"),
    "use_liger_kernel": (False, "the packed rows need their 4-D mask, which Liger's fused loss does not take"),
}


def _cuda_bf16() -> bool:
    import torch

    return torch.cuda.is_available() and torch.cuda.is_bf16_supported()


@dataclass
class EpisodeConfig:
    """The episodes a trainer learns from: which env, which tasks, which context builder (shared by SFT and GRPO)."""

    env_id: str = field(
        default="envkit/Tasks-v0",
        metadata={"help": "Gymnasium id of the env episodes are played in (Tasks-v0: any source)."},
    )
    source: str = field(
        default="synthetic",
        metadata={"help": "Source spec (any kind) to compose training tasks from (ignored with task_file)."},
    )
    task_file: str | None = field(
        default=None, metadata={"help": "A composed task file to train on (e.g. a suite's train_parallel_n2.jsonl)."}
    )
    n_objectives: int = field(default=2, metadata={"help": "Objectives per composed task (MEM1 trains on 2)."})
    strategy: str = field(default="parallel", metadata={"help": "Composition strategy: parallel, chained or mixed."})
    n_tasks: int = field(default=5000, metadata={"help": "Training tasks to compose (each one a dataset row)."})
    context: str = field(
        default="consolidated",
        metadata={"help": "Context builder of the rollouts: consolidated (MEM1), full, window(K), summary(K) or fold."},
    )
    max_turns: int | None = field(
        default=None, metadata={"help": "Turns per episode (default: the protocol's or the env's, 4N + 4)."}
    )
    protocol: str = field(
        default="envkit",
        metadata={"help": "Protocol preset: envkit, or mem1 (MEM1's released code: <think>, its prompt, 6 turns)."},
    )
    state_tag: str | None = field(
        default=None, metadata={"help": "Internal-state tag agents write (default: the protocol's, IS or think)."}
    )
    corpus: str | None = field(
        default=None, metadata={"help": "JSONL corpus the questions are answered from (default: the sources')."}
    )
    retriever: str | None = field(default=None, metadata={"help": "Retriever spec (default: bm25 over the corpus)."})
    top_k: int | None = field(default=None, metadata={"help": "Passages per search (default 3)."})

    def check_episodes(self) -> None:
        """One-line errors for bad episode options (a bad builder name fails with its own message)."""
        if self.n_objectives < 1:
            raise ValueError(f"n_objectives must be at least 1, got {self.n_objectives}")
        if self.n_tasks < 1:
            raise ValueError(f"n_tasks must be at least 1, got {self.n_tasks}")
        if self.max_turns is not None and self.max_turns < 1:
            raise ValueError(f"max_turns must be at least 1, got {self.max_turns}")
        from envkit.envs.protocols import resolve_protocol
        from envkit.protocol.context import make_context_builder
        from envkit.protocol.tags import TagSet

        make_context_builder(self.context)
        resolve_protocol(self.protocol)
        if self.state_tag is not None:
            TagSet(state=self.state_tag)  # an invalid tag name fails here, in one line

    @property
    def agent_state_tag(self) -> str:
        """The state tag the episodes' agents write: ``state_tag``, else the protocol's."""
        from envkit.envs.protocols import resolve_protocol

        return self.state_tag or resolve_protocol(self.protocol).state_tag


@dataclass
class ForwardConfig:
    """How the model is loaded and how the packed training forward runs (shared by SFT and GRPO).

    ``attn_implementation`` and ``device_map`` go to ``from_pretrained`` through TRL's
    ``model_init_kwargs`` when the model is named by a path. ``packed_attention`` picks
    the kernel of the packed rows (:class:`envkit.packing.Scoring`): ``tiles`` computes
    only the tiles each turn can see and works under any ``attn_implementation``
    (flash-attention included); ``dense`` is the L×L additive mask.
    """

    attn_implementation: str | None = field(
        default=None,
        metadata={"help": "Attention implementation to load the model with (sdpa, eager, flash_attention_2, ...)."},
    )
    device_map: str | None = field(default=None, metadata={"help": "device_map to load the model with (e.g. auto)."})
    packed_attention: str = field(
        default="auto",
        metadata={"help": "Packed rows' attention: tiles (block-sparse), flex, dense, or auto (flex if loaded so)."},
    )
    attention_tile: int = field(default=64, metadata={"help": "Tile size of the block-sparse attention."})
    logit_chunk: int = field(
        default=1024,
        metadata={"help": "Completion tokens per LM-head chunk, recomputed in backward (0: all logits at once)."},
    )

    def check_forward(self) -> None:
        """One-line errors for bad forward options; the loading options join TRL's ``model_init_kwargs``."""
        self.scoring  # noqa: B018  (validates the three scoring fields)
        loading = {"attn_implementation": self.attn_implementation, "device_map": self.device_map}
        chosen = {name: value for name, value in loading.items() if value is not None}
        if chosen:
            init = getattr(self, "model_init_kwargs", None)
            if isinstance(init, str):
                import json

                init = json.loads(init)
            self.model_init_kwargs = {**(init or {}), **chosen}

    @property
    def scoring(self) -> Scoring:
        from envkit.packing import Scoring

        return Scoring(self.packed_attention, self.attention_tile, self.logit_chunk)


@dataclass
class TrainerDefaults:
    """TRL's defaults that cost on a CPU or in parity, changed for every envkit trainer (see the module docstring).

    ``bf16`` and ``gradient_checkpointing`` are ``None`` ("decide for this machine")
    until :meth:`apply_defaults` resolves them, where TRL declares plain ``bool``: the
    configs that mix this class in carry a ``type: ignore[misc]`` for that.
    """

    bf16: bool | None = field(
        default=None, metadata={"help": "bf16 mixed precision (default: on where a CUDA GPU supports it)."}
    )
    activation_checkpointing: bool | None = field(
        default=False, metadata={"help": "Recompute activations in the backward pass (saves GPU memory)."}
    )
    gradient_checkpointing: bool | None = field(
        default=None, metadata={"help": "Deprecated alias of activation_checkpointing (transformers 5)."}
    )
    disable_tqdm: bool | None = field(default=True, metadata={"help": "Hide tqdm bars (rich progress is shown)."})
    logging_steps: float = field(default=1, metadata={"help": "Log every N optimizer steps."})

    def apply_defaults(self) -> None:
        """bf16 where CUDA supports it unless set (set on a CPU: CPU autocast); no pinned memory without a GPU."""
        import torch

        if self.bf16 is None:
            self.bf16 = _cuda_bf16()
        if not torch.cuda.is_available():
            self.dataloader_pin_memory = False  # nothing to pin memory for
            if self.bf16:
                self.use_cpu = True  # transformers refuses bf16 without a GPU unless told to autocast on the CPU


@dataclass
class Mem1GRPOConfig(EpisodeConfig, ForwardConfig, TrainerDefaults, GRPOConfig):  # type: ignore[misc]  # see TrainerDefaults
    """GRPO over multi-turn envkit episodes with masked trajectories (see the module docstring)."""

    max_context_tokens: int = field(
        default=4096, metadata={"help": "Context budget: a longer context ends the episode as a violation."}
    )
    env_reward_weight: float = field(default=1.0, metadata={"help": "Weight of the env's reward (EM/F1 per task)."})
    format_reward_weight: float = field(
        default=0.0,
        metadata={"help": "Weight of the format reward: 1 minus the share of turns that violated the protocol."},
    )
    packing: str = field(
        default="masked",
        metadata={"help": "Training layout: masked (one row per episode, 4-D mask) or per_turn (one row per turn)."},
    )
    rollout_batch_size: int = field(default=16, metadata={"help": "Episodes played at once (one batched generate)."})
    rollout_dtype: str | None = field(
        default=None,
        metadata={
            "help": "Sample episodes with a copy of the weights in this dtype (bfloat16: faster decoding on CPUs "
            "with AVX-512 BF16), synced before each rollout; its log-probs serve as pi_old and their distance "
            "to the training forward's is logged as logp_gap. With bf16=True accelerate already autocasts every "
            "forward on a CPU; the copy saves the per-call weight cast. Default: the training model samples."
        },
    )
    kl_in_reward: bool = field(
        default=False,
        metadata={"help": "Apply beta as MEM1's k1 reward penalty (veRL's use_kl_in_reward), not TRL's k3 loss term."},
    )
    n_schedule: str | None = field(
        default=None,
        metadata={
            "help": "Curriculum over N: '2:200,4:400,8' (N=2 to step 200, N=4 to step 400, then 8) or "
            "'2:r0.8,4:r0.8,8' (move on when a batch's mean reward reaches 0.8); overrides n_objectives."
        },
    )
    lora_r: int = field(default=0, metadata={"help": "LoRA rank through peft; 0 trains every parameter."})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha."})
    lora_dropout: float = field(default=0.0, metadata={"help": "LoRA dropout."})
    lora_target_modules: str = field(
        default="all-linear", metadata={"help": "Modules LoRA adapts (peft's target_modules; comma-separated)."}
    )

    def __post_init__(self) -> None:
        self.apply_defaults()
        self.check_episodes()
        self.check_forward()
        if self.packing not in PACKINGS:
            raise ValueError(f"packing must be one of {', '.join(PACKINGS)}, got {self.packing!r}")
        if self.rollout_batch_size < 1:
            raise ValueError(f"rollout_batch_size must be at least 1, got {self.rollout_batch_size}")
        if self.rollout_dtype is not None and self.rollout_dtype not in ROLLOUT_DTYPES:
            raise ValueError(f"rollout_dtype must be one of {', '.join(ROLLOUT_DTYPES)}, got {self.rollout_dtype!r}")
        if self.rollout_dtype is not None and self.use_vllm:
            raise ValueError("rollout_dtype sets the dtype of envkit's own sampler: with use_vllm, vLLM samples")
        if self.kl_in_reward and self.beta == 0:
            raise ValueError("kl_in_reward needs a KL weight: set beta > 0 (MEM1 used 0.001)")
        self._check_trl_options()
        self._check_n_schedule()
        if self.temperature <= 0:  # greedy turns have no sampling distribution: log-probs divide by it
            raise ValueError(f"temperature must be positive for training (GRPO samples), got {self.temperature}")
        if self.lora_r < 0:
            raise ValueError(f"lora_r must be non-negative, got {self.lora_r}")
        if self.use_vllm and self.vllm_mode == "colocate" and self.vllm_tensor_parallel_size > 1:
            raise ValueError(
                "vllm_tensor_parallel_size > 1 needs vllm_mode=server: colocated tensor-parallel generation needs "
                "every rank in each call, and multi-turn episodes end at different turns"
            )
        from envkit.train.importance import IS_MODES

        if self.vllm_importance_sampling_mode not in IS_MODES:
            raise ValueError(
                f"vllm_importance_sampling_mode must be one of {', '.join(IS_MODES)}, "
                f"got {self.vllm_importance_sampling_mode!r}"
            )
        super().__post_init__()

    def _check_n_schedule(self) -> None:
        if self.n_schedule is None:
            return
        from envkit.train.curriculum import parse_n_schedule

        parse_n_schedule(self.n_schedule)  # a malformed schedule fails here, in one line
        if self.task_file is not None:
            raise ValueError("n_schedule composes tasks for each N from the source: it takes no task_file")

    def _check_trl_options(self) -> None:
        """TRL's options: each one honoured, or refused in one line when set (never silently dropped)."""
        from envkit.train.loss import LOSS_TYPES

        for name, (default, why) in _UNSUPPORTED.items():
            if getattr(self, name, default) != default:
                raise ValueError(f"{name}={getattr(self, name)!r} is not supported by Mem1GRPOTrainer: {why}")
        if self.loss_type not in LOSS_TYPES:
            raise ValueError(f"loss_type {self.loss_type!r} is not supported (use {', '.join(LOSS_TYPES)})")
        per_episode = self.loss_type in ("grpo", "dr_grpo") or self.importance_sampling_level == "sequence"
        if per_episode and self.packing != "masked":
            raise ValueError(
                f"loss_type {self.loss_type} / importance_sampling_level {self.importance_sampling_level} work per "
                "episode: they need packing=masked (one row per episode)"
            )
