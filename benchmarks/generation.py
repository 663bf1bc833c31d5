"""CPU rollout speed with a real model: the policy's decode loop against ``model.generate``, and one GRPO step.

SmolLM2-135M-Instruct (``smollm2``), float32, 2 threads. The prompts are real protocol
contexts: the first turn of held-out N = 2 tasks (instructions, questions, chat
template). Per batch size (1, 8, 32), three ways to sample the same prompts, each a
median of ``--repeats`` runs in this process:

- ``envkit``: :class:`~envkit.policy.hf.HFPolicy` (its decode loop: shared prefix
  encoded once, finished rows leave the batch, log-probs from the sampled token only);
- ``generate_logits``: ``model.generate`` as the policy called it before (stop strings,
  ``output_logits=True`` for the log-probs);
- ``generate``: plain ``model.generate`` with stop strings and no log-probs;
- ``envkit_bf16``: the same decode loop over a bfloat16 copy of the parameters, the
  sampler ``rollout_dtype="bfloat16"`` gives GRPO.

Tokens/s counts the kept tokens (up to the closing tag) over wall time. Then one GRPO
step of 16 episodes at N = 2 (4 tasks x 4 generations) is timed end to end through
``Mem1GRPOTrainer``, split into rollout and the rest (packing, forward, backward, step),
for each way of spending less compute on it (``GRPO_VARIANTS``, measured in the same
run against float32): bf16 autocast of the training forward and backward, a bf16 copy
of the weights as the sampler (``rollout_dtype``; its log-prob distance to the training
forward is reported as ``logp_gap``), and LoRA on top.
The untrained model writes no closing tag, so every turn runs to the 64-token limit:
episodes are capped at 5 turns (the oracle needs 4.3 on average at N = 2) so the step
has the size of a trained agent's; the learning benchmark logs the real steps' times.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from benchmarks.measure import median, peak_rss_mib, write_result

SOURCE = "synthetic:passages=10000,seed=0"
STOPS = ("</search>", "</answer>")


def _prompts(tokenizer: Any, count: int) -> list[list[int]]:
    import gymnasium as gym

    from envkit.envs import QA_ENV_ID
    from envkit.policy.hf import encode_context

    env = gym.make(QA_ENV_ID, n_objectives=2, source=SOURCE, split="test", seed=0, count=count)
    prompts = []
    for index in range(count):
        _, info = env.reset(options={"task_index": index})
        prompts.append(encode_context(tokenizer, info["messages"]))
    return prompts


def _envkit(policy: Any, prompts: list[list[int]]) -> int:
    return sum(g.generated_tokens for g in policy._generate(prompts, STOPS))


def _generate(model: Any, tokenizer: Any, prompts: list[list[int]], new_tokens: int, logits: bool) -> int:
    import torch

    width = max(len(p) for p in prompts)
    pad = tokenizer.pad_token_id
    ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts])
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    with torch.inference_mode():
        out = model.generate(
            input_ids=ids,
            attention_mask=mask,
            max_new_tokens=new_tokens,
            do_sample=True,
            temperature=1.0,
            top_p=1.0,
            top_k=0,
            stop_strings=list(STOPS),
            tokenizer=tokenizer,
            pad_token_id=pad,
            return_dict_in_generate=True,
            output_logits=logits,
        )
    kept = 0
    for row in out.sequences[:, width:].tolist():
        text = ""
        for count, token in enumerate(row, start=1):  # tokens up to the one completing a stop tag or the end token
            text += tokenizer.decode([token])
            if token in (tokenizer.eos_token_id, pad) or any(s in text for s in STOPS):
                kept += count
                break
        else:
            kept += len(row)
    return kept


def sampling(batches: list[int], new_tokens: int, repeats: int) -> dict[str, Any]:
    import torch

    from envkit.policy.hf import GenerationSettings, HFPolicy
    from envkit.policy.models import cast_copy

    policy = HFPolicy.from_pretrained(
        "smollm2", device="cpu", generation=GenerationSettings(max_new_tokens=new_tokens, temperature=1.0)
    )
    model, tokenizer = policy.model, policy.tokenizer
    prompts = _prompts(tokenizer, max(batches))
    results: dict[str, Any] = {"prompt_tokens_mean": sum(map(len, prompts)) / len(prompts)}
    sampler = HFPolicy(cast_copy(model, torch.bfloat16), tokenizer, policy.generation, device="cpu")
    ways = {
        "envkit": lambda p: _envkit(policy, p),
        "envkit_bf16": lambda p: _envkit(sampler, p),  # rollout_dtype="bfloat16": the GRPO sampler's copy
        "generate_logits": lambda p: _generate(model, tokenizer, p, new_tokens, True),
        "generate": lambda p: _generate(model, tokenizer, p, new_tokens, False),
    }
    for batch in batches:
        row: dict[str, Any] = {}
        for name, way in ways.items():
            rates = []
            for repeat in range(repeats):
                torch.manual_seed(repeat)
                started = time.perf_counter()
                tokens = way(prompts[:batch])
                rates.append(tokens / (time.perf_counter() - started))
            row[name] = {"tokens_per_s": median(rates), "runs": rates}
            print(batch, name, row[name], flush=True)
        row["envkit_over_generate_logits"] = row["envkit"]["tokens_per_s"] / row["generate_logits"]["tokens_per_s"]
        row["envkit_over_generate"] = row["envkit"]["tokens_per_s"] / row["generate"]["tokens_per_s"]
        row["envkit_bf16_over_envkit"] = row["envkit_bf16"]["tokens_per_s"] / row["envkit"]["tokens_per_s"]
        results[f"batch_{batch}"] = row
    return results


GRPO_VARIANTS: dict[str, dict[str, Any]] = {
    "float32": {},
    "bf16_training": {"bf16": True},  # autocast of the training forward and backward
    "bf16_training_bf16_sampler": {"bf16": True, "rollout_dtype": "bfloat16"},
    "bf16_training_bf16_sampler_lora16": {"bf16": True, "rollout_dtype": "bfloat16", "lora_r": 16},
}


def grpo_step(steps: int, options: dict[str, Any]) -> dict[str, Any]:
    """Seconds per GRPO step of 16 episodes at N = 2 (rollout, and the rest of the step)."""
    import tempfile

    from transformers import TrainerCallback

    from envkit.policy.models import load_model
    from envkit.train import Mem1GRPOConfig, Mem1GRPOTrainer

    model, tokenizer = load_model("smollm2")
    rollout_times: list[float] = []
    step_times: list[float] = []

    class Clock(TrainerCallback):
        def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.started = time.perf_counter()

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            step_times.append(time.perf_counter() - self.started)

    with tempfile.TemporaryDirectory() as folder:
        args = Mem1GRPOConfig(
            output_dir=folder,
            source=SOURCE,
            n_objectives=2,
            n_tasks=64,
            num_generations=4,
            per_device_train_batch_size=1,  # one packed episode per forward, as benchmarks.learning
            gradient_accumulation_steps=16,
            rollout_batch_size=16,
            max_completion_length=64,
            max_turns=5,
            max_steps=steps,
            learning_rate=1e-6,
            beta=0.0,
            report_to="none",
            save_strategy="no",
            temperature=1.0,
            seed=0,
            **options,
        )
        trainer = Mem1GRPOTrainer(model, args, processing_class=tokenizer, callbacks=[Clock()])
        rollout = trainer._rollout

        def timed_rollout(indices: list[int]) -> Any:
            started = time.perf_counter()
            result = rollout(indices)
            rollout_times.append(time.perf_counter() - started)
            return result

        trainer._rollout = timed_rollout  # type: ignore[method-assign]
        trainer.train()
        turns = [len(t.turns) for t in trainer.trajectories]
        gaps = [h["logp_gap"] for h in trainer.state.log_history if "logp_gap" in h]
    return {
        "options": options,
        "logp_gap": median(gaps),
        "episodes_per_step": 16,
        "step_s": step_times,
        "median_step_s": median(step_times),
        "median_rollout_s": median(rollout_times),
        "median_rest_s": median(step_times) - median(rollout_times),
        "turns_per_episode_last_step": sum(turns) / len(turns),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", default="1,8,32", help="batch sizes")
    parser.add_argument("--new-tokens", type=int, default=64, help="most new tokens per turn")
    parser.add_argument("--repeats", type=int, default=3, help="runs per cell (median)")
    parser.add_argument("--grpo-steps", type=int, default=1, help="GRPO steps to time (0: skip)")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(2)
    results: dict[str, Any] = {"model": "smollm2 (SmolLM2-135M-Instruct, float32)", "threads": 2}
    results["sampling"] = sampling([int(b) for b in args.batches.split(",")], args.new_tokens, args.repeats)
    if args.grpo_steps:
        steps = {name: grpo_step(args.grpo_steps, options) for name, options in GRPO_VARIANTS.items()}
        for name, result in steps.items():
            result["speedup_over_float32"] = steps["float32"]["median_step_s"] / result["median_step_s"]
            print(name, {k: v for k, v in result.items() if k != "step_s"}, flush=True)
        results["grpo_step_n2_16_episodes"] = steps
    results["peak_rss_mib"] = peak_rss_mib()
    targets = {"grpo_step_16_episodes_n2": "well under a minute (stated, measured)"}
    command = f"python -m benchmarks.generation --batches {args.batches} --repeats {args.repeats}"
    write_result("generation", command, results, targets)


if __name__ == "__main__":
    main()
