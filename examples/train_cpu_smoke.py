"""Train the tiny random-init model with the MEM1 trainer on CPU: a smoke run of the whole loop.

Rollouts are real multi-turn episodes in envkit/MultiObjectiveQA-v0 (N = 2, consolidated
context), rewards come from the env plus a format reward, and each step trains on masked
trajectories. A random-init model scores nothing, so this shows the machinery, not
learning: swap in a real model for that (see train_mem1_qwen7b.py).

    python examples/train_cpu_smoke.py --steps 2
"""

from __future__ import annotations

import argparse
import tempfile

from envkit.policy.tiny import tiny_model, tiny_tokenizer
from envkit.train import Mem1GRPOConfig, Mem1GRPOTrainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--output-dir", default=None)
    args = parser.parse_args()

    output_dir = args.output_dir or tempfile.mkdtemp(prefix="mem1-smoke-")
    config = Mem1GRPOConfig(
        output_dir=output_dir,
        source="synthetic:passages=2000,seed=0",  # the bundled world: no download
        n_objectives=2,
        n_tasks=64,
        context="consolidated",
        max_turns=4,
        num_generations=4,  # G episodes per task
        per_device_train_batch_size=8,  # episodes per step
        max_completion_length=32,  # tokens per turn
        format_reward_weight=0.2,
        learning_rate=1e-3,
        max_steps=args.steps,
        save_steps=args.steps,
    )
    tokenizer = tiny_tokenizer()
    trainer = Mem1GRPOTrainer(tiny_model(tokenizer), config, processing_class=tokenizer)
    trainer.train()
    print()
    for entry in trainer.state.log_history:
        if "reward" in entry:
            print(
                f"step {entry['step']}: reward {entry['reward']:.3f}, loss {entry['loss']:.4f}, "
                f"turns {entry['episode/turns']:.1f}, peak context {entry['episode/peak_context_tokens']:.0f} tokens"
            )
    print(f"checkpoints in {output_dir}")


if __name__ == "__main__":
    main()
