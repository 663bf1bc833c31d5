"""The checks that need a GPU: bf16 log-prob drift of the packed forward, and a 2-step LoRA training run.

Run by ``benchmarks/gpu_check.sh`` (with the GPU packing and rollout benchmarks) on one
CUDA GPU; ``--smoke`` runs the same code on small shapes on the CPU, so the script is
tested where no GPU is lent.

- ``drift``: a random-init model of Qwen2.5-7B's shape (28 layers, hidden 3584, a
  152k vocabulary). The ground truth is the float32 model with TF32 off, one row per
  turn under the dense mask. Against it: the float32 masked rows (tiles), the bf16
  masked rows with the tiles and with FlexAttention, and bf16 one row per turn (the
  drift bf16 costs any layout, the peer). Max and mean absolute log-prob differences
  over the completion tokens of 2 consolidated episodes of 8 turns.
- ``train``: ``Mem1GRPOTrainer`` with LoRA (r = 8), bf16, 2 optimizer steps on the
  bundled world at N = 2, on a random model of Qwen2.5-0.5B's shape with envkit's tiny
  tokenizer; step times and losses.

    python -m benchmarks.gpu_check drift|train [--smoke] --output FILE     # writes one JSON object
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from typing import Any

from benchmarks.model_shapes import QWEN_05B, QWEN_7B, SMOKE, qwen_model


def consolidated_episodes(vocab: int, turns: int = 8, episodes: int = 2) -> list:
    import torch

    from envkit.packing import TurnTokens

    generator = torch.Generator().manual_seed(0)

    def tokens(count: int) -> list[int]:
        return torch.randint(10, vocab - 10, (count,), generator=generator).tolist()

    result = []
    for _ in range(episodes):
        prompt = tokens(256)
        result.append([TurnTokens(prompt + tokens(96), tokens(96), [0.0] * 96) for _ in range(turns)])
    return result


def _difference(logps: Any, truth: Any, mask: Any) -> dict[str, float]:
    difference = (logps - truth).abs()[mask]
    return {"max": difference.max().item(), "mean": difference.mean().item()}


def drift(smoke: bool) -> dict[str, Any]:
    """Log-prob drift of each layout and precision against float32 one-row-per-turn."""
    import torch

    from envkit.packing import Scoring, pack_episodes, pack_turns, token_logps

    device = "cpu" if smoke else "cuda"
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    model = qwen_model(SMOKE if smoke else QWEN_7B, device).eval()
    episodes = consolidated_episodes(model.config.vocab_size)
    masked = {k: v.to(device) for k, v in pack_episodes(episodes, 0).as_dict().items()}
    per_turn = {k: v.to(device) for k, v in pack_turns(episodes, 0).as_dict().items()}

    def on_turns(logps: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Completion log-probs in (episode, turn, index) order, whatever the layout."""
        mask = batch["completion_mask"]
        keys = batch["row_episode"][:, None].expand_as(mask)[mask] * 10**6 + batch["token_turn"][mask] * 10**3
        order = torch.argsort(keys + batch["token_index"][mask])
        return logps[mask][order]

    results: dict[str, Any] = {"model": "Qwen2.5-7B shape, random init" if not smoke else "smoke shape"}
    with torch.no_grad():
        truth = on_turns(token_logps(model, per_turn, scoring=Scoring("dense", logit_chunk=0)), per_turn)
        every = torch.ones_like(truth, dtype=torch.bool)
        fp32_tiles = on_turns(token_logps(model, masked, scoring=Scoring("tiles")), masked)
        results["float32 masked/tiles"] = _difference(fp32_tiles, truth, every)
        model.to(torch.bfloat16)
        for name, batch, scoring in (
            ("bf16 per_turn/dense (peer)", per_turn, Scoring("dense")),
            ("bf16 masked/tiles", masked, Scoring("tiles")),
        ):
            results[name] = _difference(on_turns(token_logps(model, batch, scoring=scoring), batch), truth, every)
        model.config._attn_implementation = "flex_attention"
        flex = on_turns(token_logps(model, masked, scoring=Scoring("flex")), masked)
        results["bf16 masked/flex"] = _difference(flex, truth, every)
    results["completion_tokens"] = int(truth.numel())
    return results


def train(smoke: bool) -> dict[str, Any]:
    """Two LoRA steps of Mem1GRPOTrainer in bf16 on a Qwen2.5-0.5B-shaped random model."""
    import torch
    from transformers import TrainerCallback

    from envkit.policy.tiny import tiny_tokenizer
    from envkit.train import Mem1GRPOConfig, Mem1GRPOTrainer

    tokenizer = tiny_tokenizer()
    model = qwen_model(SMOKE if smoke else QWEN_05B, vocab_size=len(tokenizer))
    times: list[float] = []

    class StepTimer(TrainerCallback):  # type: ignore[misc]
        def on_step_begin(self, *args: Any, **kwargs: Any) -> None:
            self.started = time.perf_counter()

        def on_step_end(self, *args: Any, **kwargs: Any) -> None:
            times.append(time.perf_counter() - self.started)

    with tempfile.TemporaryDirectory() as folder:
        args = Mem1GRPOConfig(
            output_dir=folder,
            source="synthetic",
            n_objectives=2,
            n_tasks=64,
            max_steps=2,
            lora_r=8,
            per_device_train_batch_size=8,
            num_generations=4,
            rollout_batch_size=16,
            max_completion_length=16 if smoke else 64,
            max_turns=4 if smoke else 10,
            bf16=True,
            learning_rate=1e-4,
            save_strategy="no",
            report_to="none",
            seed=0,
        )
        trainer = Mem1GRPOTrainer(model, args, processing_class=tokenizer, callbacks=[StepTimer()])
        trainer.train()
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
    return {"device": device, "step_s": times, "losses": losses, "steps": trainer.state.global_step}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("check", choices=("drift", "train"))
    parser.add_argument("--smoke", action="store_true", help="small shapes on the CPU (tests the script)")
    parser.add_argument("--output", required=True, help="JSON file to write (stdout carries the trainer's display)")
    options = parser.parse_args()
    result = drift(options.smoke) if options.check == "drift" else train(options.smoke)
    with open(options.output, "w") as out:
        json.dump(result, out, indent=2)


if __name__ == "__main__":
    main()
