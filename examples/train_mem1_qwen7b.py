"""MEM1's training run on a GPU node: Qwen2.5-7B-Instruct, GRPO on the mem1-qa suite's N = 2 tasks.

As MEM1 trains: two questions per task, consolidated context (the agent keeps only its
internal state), G = 8 episodes per task, reward = exact match per question. Then
evaluate on N = 1 ... 32 to see it hold its memory flat beyond the training horizon.

    envkit suite generate --preset mem1-qa -o suites/mem1-qa
    accelerate launch --config_file examples/train/deepspeed_zero3.yaml examples/train_mem1_qwen7b.py
    envkit eval --policy hf:runs/mem1-qwen2.5-7b --suite suites/mem1-qa -o reports/mem1-7b --batch-size 32

The same run from the command line: ``envkit train --model Qwen/Qwen2.5-7B-Instruct
--config examples/train/mem1_qwen7b.yaml`` (add ``--lora_r 64`` for LoRA on one GPU).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from envkit.train import Mem1GRPOConfig, Mem1GRPOTrainer

RECIPE = Path(__file__).parent / "train" / "mem1_qwen7b.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="Qwen/Qwen2.5-7B-Instruct")
    parser.add_argument("--suite", default="suites/mem1-qa")
    parser.add_argument("--lora-r", type=int, default=0, help="LoRA rank (0: full fine-tuning)")
    args = parser.parse_args()

    options = yaml.safe_load(RECIPE.read_text())
    options["task_file"] = str(Path(args.suite) / "train_parallel_n2.jsonl")
    config = Mem1GRPOConfig(**options, lora_r=args.lora_r)
    trainer = Mem1GRPOTrainer(args.model, config)
    trainer.train(resume_from_checkpoint=any(Path(config.output_dir).glob("checkpoint-*")) or None)
    trainer.save_model(config.output_dir)


if __name__ == "__main__":
    main()
