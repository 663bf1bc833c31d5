"""Peak memory of the rollout and of one training step on a Qwen2.5-0.5B-shaped model: before and after.

A random-init model with Qwen2.5-0.5B's shape (24 layers, hidden 896, 14 query / 2
key-value heads, a 151,936-token vocabulary; 494M float32 parameters) on the CPU. Each
variant runs in a fresh process; its figure is the peak resident memory during the
measured call above the memory held just before it (the model, its gradients' first
allocation excluded by a warm-up call, the batch), read from ``VmHWM`` after resetting it.

Rollout (``ROLLOUT_ROWS`` prompts of ``PROMPT`` tokens, ``NEW_TOKENS`` sampled tokens each):

- ``generate``: transformers' ``generate`` returning the per-step logits, as a policy
  needs for log-probs (the whole ``(steps, rows, vocab)`` float32 stack is kept);
- ``sample``: envkit's decode loop (:func:`envkit.policy.decoding.sample`), which keeps
  each sampled token's log-prob and drops the logits at once.

Training step (forward, GRPO loss, backward) on ``EPISODES`` consolidated episodes of
``TURNS`` turns (a ``PROMPT``-token prompt; per turn ``CONTEXT`` tokens of state and
observation and ``COMPLETION`` generated tokens), packed as masked trajectories:

- ``dense, whole logits``: the dense L×L mask and the LM head over every completion
  token at once, kept for the backward (the trainer before this change);
- ``dense, chunked logits``: the LM head in chunks of 1,024 tokens, recomputed in the backward;
- ``tiles, chunked logits``: block-sparse attention and chunked logits (the default);
- the first and the last again with activation checkpointing (``activation_checkpointing``),
  where the layers' activations no longer dominate and the logits' share shows.

Each rollout runs at ``NEW_TOKENS / 4`` and ``NEW_TOKENS`` new tokens: ``generate``'s peak
grows with the tokens (its logits stack), ``sample``'s with the KV cache only.

    python -m benchmarks.train_memory          # writes results/train_memory.json
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

from benchmarks.measure import peak_rss_since_reset_mib, reset_peak_rss, rss_mib, write_result
from benchmarks.model_shapes import QWEN_05B, qwen_model

PROMPT, CONTEXT, COMPLETION, TURNS, EPISODES = 256, 96, 96, 8, 2
ROLLOUT_ROWS, NEW_TOKENS = 16, 128
TRAINING = {  # name: (attention, logit chunk, activation checkpointing)
    "dense, whole logits": ("dense", 0, False),
    "dense, chunked logits": ("dense", 1024, False),
    "tiles, chunked logits": ("tiles", 1024, False),
    "dense, whole logits, checkpointing": ("dense", 0, True),
    "tiles, chunked logits, checkpointing": ("tiles", 1024, True),
}
ROLLOUTS = ("generate", "sample")  # each at NEW_TOKENS // 4 and NEW_TOKENS new tokens


def episodes() -> list:
    """Consolidated episodes: a shared prompt, then per turn a fresh context part and a completion."""
    import torch

    from envkit.packing import TurnTokens

    generator = torch.Generator().manual_seed(0)

    def tokens(count: int) -> list[int]:
        return torch.randint(100, 150_000, (count,), generator=generator).tolist()

    result = []
    for _ in range(EPISODES):
        prompt = tokens(PROMPT)
        result.append(
            [TurnTokens(prompt + tokens(CONTEXT), tokens(COMPLETION), [-1.0] * COMPLETION) for _ in range(TURNS)]
        )
    return result


def measure_training(name: str) -> dict[str, float]:
    import torch

    from envkit.packing import Scoring, pack_episodes, token_logps
    from envkit.train.loss import grpo_loss

    attention, chunk, checkpointing = TRAINING[name]
    model = qwen_model(QWEN_05B)
    if checkpointing:
        model.gradient_checkpointing_enable()
    model.train()
    batch = pack_episodes(episodes(), pad_id=0).as_dict()
    advantages = torch.tensor([1.0, -1.0])[batch["row_episode"]]

    def step() -> None:
        logps = token_logps(model, batch, scoring=Scoring(attention, logit_chunk=chunk))
        loss, _ = grpo_loss(logps, batch["old_logps"], advantages, batch["completion_mask"])
        loss.backward()

    step()  # the gradients' buffers are allocated once and kept: not the step's own memory
    before = rss_mib()
    reset_peak_rss()
    started = time.perf_counter()
    step()
    seconds = time.perf_counter() - started
    return {
        "peak_mib": peak_rss_since_reset_mib() - before,
        "step_s": seconds,
        "row_length": int(batch["input_ids"].shape[1]),
        "loss_tokens": int(batch["completion_mask"].sum()),
    }


def measure_rollout(name: str, new_tokens: int) -> dict[str, float]:
    import torch

    from envkit.policy.decoding import GenerationSettings, sample

    model = qwen_model(QWEN_05B).eval()
    generator = torch.Generator().manual_seed(0)
    prompts = torch.randint(100, 150_000, (ROLLOUT_ROWS, PROMPT), generator=generator)
    settings = GenerationSettings(max_new_tokens=new_tokens, temperature=1.0)

    def run() -> None:
        if name == "sample":
            sample(model, prompts.tolist(), settings, pad_id=0, eos_ids=set())
            return
        with torch.inference_mode():
            model.generate(
                prompts,
                attention_mask=torch.ones_like(prompts),
                do_sample=True,
                max_new_tokens=new_tokens,
                min_new_tokens=new_tokens,
                output_logits=True,
                return_dict_in_generate=True,
                pad_token_id=0,
            )

    before = rss_mib()
    reset_peak_rss()
    started = time.perf_counter()
    run()
    seconds = time.perf_counter() - started
    return {"peak_mib": peak_rss_since_reset_mib() - before, "seconds": seconds}


def main() -> None:
    if len(sys.argv) == 4:  # a child: one measurement
        import torch

        torch.set_num_threads(2)
        kind, name, tokens = sys.argv[1], sys.argv[2], int(sys.argv[3])
        result = measure_training(name) if kind == "training" else measure_rollout(name, tokens)
        print(json.dumps(result))
        return
    lengths = (NEW_TOKENS // 4, NEW_TOKENS)
    runs = [("rollout", f"{name}, {tokens} tokens", name, tokens) for tokens in lengths for name in ROLLOUTS]
    runs += [("training", name, name, 0) for name in TRAINING]
    results: dict[str, dict[str, dict[str, float]]] = {"rollout": {}, "training": {}}
    for kind, label, name, tokens in runs:
        child = subprocess.run(
            [sys.executable, "-m", "benchmarks.train_memory", kind, name, str(tokens)],
            capture_output=True,
            text=True,
            check=True,
        )
        results[kind][label] = json.loads(child.stdout.strip().splitlines()[-1])
        print(kind, label, results[kind][label], flush=True)
    rollout, training = results["rollout"], results["training"]

    def ratio(table: dict[str, dict[str, float]], peer: str, ours: str) -> float:
        return table[peer]["peak_mib"] / table[ours]["peak_mib"]

    ratios = {
        f"rollout at {NEW_TOKENS} tokens: generate over sample": ratio(
            rollout, f"generate, {NEW_TOKENS} tokens", f"sample, {NEW_TOKENS} tokens"
        ),
        "training: whole over chunked logits (dense)": ratio(training, "dense, whole logits", "dense, chunked logits"),
        "training: before over after": ratio(training, "dense, whole logits", "tiles, chunked logits"),
        "training with checkpointing: before over after": ratio(
            training, "dense, whole logits, checkpointing", "tiles, chunked logits, checkpointing"
        ),
    }
    shape = {
        "model": "Qwen2.5-0.5B shape, random init, float32 (494M parameters), CPU, 2 threads",
        "rollout": f"{ROLLOUT_ROWS} rows x {PROMPT}-token prompts, {NEW_TOKENS // 4} and {NEW_TOKENS} new tokens",
        "training": f"{EPISODES} episodes x {TURNS} turns: {PROMPT}-token prompt, {CONTEXT} context + "
        f"{COMPLETION} completion tokens per turn (consolidated), packed masked",
    }
    write_result("train_memory", "python -m benchmarks.train_memory", {**shape, **results, "ratios": ratios}, {})


if __name__ == "__main__":
    main()
