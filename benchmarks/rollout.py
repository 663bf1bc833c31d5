"""Context size against N with the oracle, and rollout throughput of a model policy, per context builder.

1. Oracle on the bundled world (10k passages, test split), N = 1, 2, 4, 8, 16, 32,
   ``consolidated`` and ``full``, 50 episodes each, through the rollout runner:
   - peak context tokens, prompt included (the mean of each episode's peak): the
     answer-carrying oracle, i.e. what a MEM1 agent holds; ratio full/consolidated;
   - the *retained memory*: peak context minus the task prompt, for the constant-state
     oracle probe (``OracleAgent(carry_answers=False)``), which isolates what the
     builder itself retains from what an agent chooses to write in its state. Reported
     as the peak over the run (max over episodes), the median of episode peaks, and the
     mean per turn. Target (issue 5): consolidated flat in N (≤ 5% growth N = 2 → 32),
     full linear; full/consolidated ≥ 3.7 at N = 16.
2. The tiny random-init model (``envkit.policy.tiny``) on CPU at N = 16: generated tokens/s
   of batched rollouts (8 episodes at once, 64 new tokens per turn, 12 turns) for both
   builders; the peer is the other builder in the same run.
3. On a CUDA GPU, when there is one: the same at N = 16 with a real-size Qwen2.5-7B
   config (random weights, bfloat16): peak GPU memory and tokens/s for both builders.
4. ``--memory``: the memory operations against MEM1's rule and the full context, with the
   scripted oracle (which writes each operation's elements: a summary when asked, two-turn
   branches), N = 1 ... 128: oracle success, peak and mean context tokens per episode
   (prompt included) for ``consolidated``, ``full``, ``summary(4)`` and ``fold``, each
   builder's ratio to ``consolidated`` from the same run; and the retained memory (peak
   minus prompt) of the constant-state probe under ``consolidated`` up to N = 128; and
   knowledge updates (answer entities renamed mid-episode): EM of the oracle, which
   overwrites what it keeps, against the control that never does, N = 2, 8, 32 with 1
   and 4 updates per task, under ``consolidated``.

    python -m benchmarks.rollout            # writes results/rollout.json (results/rollout_gpu.json on a GPU)
    python -m benchmarks.rollout --memory   # writes results/rollout_memory.json
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import envkit  # noqa: F401
from benchmarks.measure import write_result
from envkit.envs import QA_ENV_ID
from envkit.kinds.oracle import TaskOracle
from envkit.policy.base import AgentPolicy
from envkit.policy.hf import GenerationSettings, HFPolicy
from envkit.policy.scripted import OracleAgent
from envkit.rollout.runner import RolloutRunner, env_factory

SOURCE = "synthetic:passages=10000,seed=0"
NS = (1, 2, 4, 8, 16, 32)
BUILDERS = ("consolidated", "full")


def _oracle_runs(carry_answers: bool, episodes: int) -> dict[tuple[int, str], list[Any]]:
    runs = {}
    for n in NS:
        for builder in BUILDERS:
            make = env_factory(QA_ENV_ID, n_objectives=n, source=SOURCE, split="test", context=builder)
            with RolloutRunner(make, AgentPolicy(lambda: OracleAgent(carry_answers=carry_answers))) as runner:
                runs[(n, builder)] = runner.run(episodes)
    return runs


def oracle_scaling(episodes: int) -> dict[str, Any]:
    carrying, probe = _oracle_runs(True, episodes), _oracle_runs(False, episodes)
    rows = []
    for n in NS:
        row: dict[str, Any] = {"n": n}
        for builder in BUILDERS:
            trajectories = carrying[(n, builder)]
            row[f"{builder}_success"] = statistics.fmean(t.success for t in trajectories)
            row[f"{builder}_peak_tokens"] = statistics.fmean(t.peak_context_tokens for t in trajectories)
            prompt = [t.turns[0].context_tokens for t in trajectories]
            row["prompt_tokens"] = statistics.fmean(prompt)
            retained = [t.peak_context_tokens - t.turns[0].context_tokens for t in probe[(n, builder)]]
            per_turn = [c.context_tokens - t.turns[0].context_tokens for t in probe[(n, builder)] for c in t.turns[1:]]
            row[f"{builder}_retained_peak_over_run"] = max(retained)
            row[f"{builder}_retained_peak_median"] = statistics.median(retained)
            row[f"{builder}_retained_mean_per_turn"] = statistics.fmean(per_turn) if per_turn else 0.0
        row["turns"] = statistics.fmean(len(t.turns) for t in carrying[(n, "consolidated")])
        row["full_over_consolidated"] = row["full_peak_tokens"] / row["consolidated_peak_tokens"]
        rows.append(row)
        print(row, flush=True)
    by_n = {r["n"]: r for r in rows}

    def growth(key: str) -> float:
        return by_n[32][key] / by_n[2][key] - 1

    return {
        "episodes": episodes,
        "counter": "default word-piece counter (envkit.protocol.tokens)",
        "rows": rows,
        "consolidated_retained_growth_2_to_32": {
            "peak_over_run": growth("consolidated_retained_peak_over_run"),
            "median_episode_peak": growth("consolidated_retained_peak_median"),
            "mean_per_turn": growth("consolidated_retained_mean_per_turn"),
        },
        "full_retained_growth_2_to_32": growth("full_retained_peak_over_run"),
        "consolidated_total_peak_growth_2_to_32": growth("consolidated_peak_tokens"),
        "full_over_consolidated_at_16": by_n[16]["full_over_consolidated"],
    }


MEMORY_NS = (1, 2, 4, 8, 16, 32, 64, 128)
MEMORY_BUILDERS = ("consolidated", "full", "summary(4)", "fold")


def memory_operations(episodes: int) -> dict[str, Any]:
    """Success and context size of each memory operation against N, with the oracle that uses it."""
    rows = []
    for n in MEMORY_NS:
        row: dict[str, Any] = {"n": n}
        for builder in MEMORY_BUILDERS:
            make = env_factory(QA_ENV_ID, n_objectives=n, source=SOURCE, split="test", context=builder)
            with RolloutRunner(make, AgentPolicy(lambda: TaskOracle("IS")), batch_size=4) as runner:
                trajectories = runner.run(episodes)
            row[builder] = {
                "success": statistics.fmean(t.success for t in trajectories),
                "peak_context_tokens": statistics.fmean(t.peak_context_tokens for t in trajectories),
                "mean_context_tokens": statistics.fmean(t.mean_context_tokens for t in trajectories),
                "turns": statistics.fmean(len(t.turns) for t in trajectories),
                "overflowed": sum(bool(t.truncated and not t.success) for t in trajectories),  # context > obs. space
            }
        base = row["consolidated"]["peak_context_tokens"]
        for builder in MEMORY_BUILDERS[1:]:
            row[builder]["peak_over_consolidated"] = row[builder]["peak_context_tokens"] / base
        rows.append(row)
        print({"n": n, **{b: round(row[b]["peak_context_tokens"]) for b in MEMORY_BUILDERS}}, flush=True)
    probe = []
    for n in (2, 32, 64, 128):
        make = env_factory(QA_ENV_ID, n_objectives=n, source=SOURCE, split="test", context="consolidated")
        with RolloutRunner(make, AgentPolicy(lambda: OracleAgent(carry_answers=False))) as runner:
            trajectories = runner.run(episodes)
        retained = [t.peak_context_tokens - t.turns[0].context_tokens for t in trajectories]
        per_turn = [c.context_tokens - t.turns[0].context_tokens for t in trajectories for c in t.turns[1:]]
        probe.append(
            {
                "n": n,
                "retained_peak_over_run": max(retained),
                "retained_peak_median": statistics.median(retained),
                "retained_mean_per_turn": statistics.fmean(per_turn),
            }
        )
    first, last = probe[0]["retained_peak_over_run"], probe[-1]["retained_peak_over_run"]
    return {
        "knowledge_updates": knowledge_updates(episodes),
        "episodes": episodes,
        "counter": "default word-piece counter (envkit.protocol.tokens)",
        "rows": rows,
        "consolidated_retained_probe": probe,
        "consolidated_retained_growth_2_to_128": last / first - 1,
    }


def knowledge_updates(episodes: int) -> list[dict[str, Any]]:
    """Mean EM with updates: the oracle (follows them) against the control that keeps the old names."""
    rows = []
    for n in (2, 8, 32):
        for updates in (1, 4):
            make = env_factory(QA_ENV_ID, n_objectives=n, source=SOURCE, split="test", updates=updates)
            row: dict[str, Any] = {"n": n, "updates": updates}
            for name, follow in (("oracle", True), ("never_updates", False)):
                agent = AgentPolicy(lambda follow=follow: OracleAgent(follow_updates=follow))
                with RolloutRunner(make, agent) as runner:
                    trajectories = runner.run(episodes)
                row[f"{name}_em"] = statistics.fmean(t.metrics["em_mean"] for t in trajectories)
            rows.append(row)
            print(row, flush=True)
    return rows


def model_throughput(policy: HFPolicy, episodes: int, turns: int) -> dict[str, Any]:
    results = {}
    for builder in BUILDERS:
        make = env_factory(QA_ENV_ID, n_objectives=16, source=SOURCE, split="test", max_turns=turns, context=builder)
        with RolloutRunner(make, policy, batch_size=episodes) as runner:
            runner.run(1)  # warm-up: first calls allocate
            started = time.perf_counter()
            trajectories = runner.run(episodes)
            wall = time.perf_counter() - started
        generated = sum(t.generated_tokens for t in trajectories)
        gpu = [t.gpu_peak_bytes for t in trajectories if t.gpu_peak_bytes is not None]
        results[builder] = {
            "episodes": episodes,
            "turns": sum(len(t.turns) for t in trajectories),
            "generated_tokens": generated,
            "wall_s": wall,
            "tokens_per_s": generated / wall,
            "peak_context_tokens": max(t.peak_context_tokens for t in trajectories),
            "gpu_peak_gib": max(gpu) / 2**30 if gpu else None,
        }
        print(builder, results[builder], flush=True)
    results["consolidated_over_full_tokens_per_s"] = (
        results["consolidated"]["tokens_per_s"] / results["full"]["tokens_per_s"]
    )
    return results


def real_size_policy() -> HFPolicy:
    """Qwen2.5-7B-Instruct's architecture with random bfloat16 weights (no download)."""
    import torch

    from benchmarks.model_shapes import QWEN_7B, qwen_model
    from envkit.policy.tiny import tiny_tokenizer

    tokenizer = tiny_tokenizer()
    ids = {"eos_token_id": tokenizer.eos_token_id, "pad_token_id": tokenizer.pad_token_id}
    model = qwen_model(QWEN_7B, "cuda", **ids).to(torch.bfloat16).eval()
    settings = GenerationSettings(max_new_tokens=128, temperature=1.0)
    return HFPolicy(model, tokenizer, settings, max_context_tokens=32_000, device="cuda", seed=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--episodes", type=int, default=50, help="oracle episodes per N and builder")
    parser.add_argument(
        "--memory", action="store_true", help="the memory operations only (results/rollout_memory.json)"
    )
    args = parser.parse_args()
    if args.memory:
        command = f"python -m benchmarks.rollout --memory --episodes {args.episodes}"
        targets = {
            "oracle_success": "1.0 under every builder wherever its context fits the observation space (262,144 chars)",
            "consolidated_retained_growth_2_to_128": "<= 0.05 (flat)",
        }
        write_result("rollout_memory", command, {"memory_operations": memory_operations(args.episodes)}, targets)
        return
    import torch

    from envkit.policy.tiny import tiny_policy

    targets = {
        "consolidated_retained_growth_2_to_32": "<= 0.05 (flat)",
        "full_over_consolidated_at_16": ">= 3.7",
    }
    if torch.cuda.is_available():
        gpu = model_throughput(real_size_policy(), episodes=8, turns=12)
        gpu["device"] = torch.cuda.get_device_name()
        write_result("rollout_gpu", "python -m benchmarks.rollout", {"qwen2.5-7b_config_n16": gpu}, {})
        return
    torch.set_num_threads(2)
    results = {
        "oracle_scaling": oracle_scaling(args.episodes),
        "tiny_model_cpu_n16": model_throughput(
            tiny_policy(generation=GenerationSettings(max_new_tokens=64, temperature=1.0), seed=0), 8, 12
        ),
        "gpu": "no CUDA GPU in this run (see results/rollout_gpu.json when one was lent)",
    }
    write_result("rollout", f"python -m benchmarks.rollout --episodes {args.episodes}", results, targets)


if __name__ == "__main__":
    main()
