"""Training step time and peak memory: masked-trajectory packing against one sequence per turn.

Episodes of T = 4, 8, 16 turns are played by the tiny model (``envkit.testing``, float32,
CPU) on the bundled world at N = 2 under the ``consolidated`` context (8 episodes, 32
new tokens per turn). One training step = the packed forward, the GRPO loss and the
backward, on the same episodes in both layouts:

- ``masked``: one row per episode, the shared prompt once, a 4-D mask (envkit's layout);
- ``per_turn``: one row per turn, each with its whole context (the peer).

Each (T, layout) is measured in a fresh process; peak memory is the process's peak RSS
above its RSS before the step (CPU), or ``torch.cuda.max_memory_allocated`` on CUDA.

    python -m benchmarks.train_packing          # writes results/train_packing.json
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time

from benchmarks.measure import write_result

TURNS = (4, 8, 16)
LAYOUTS = ("masked", "per_turn")
EPISODES = 8
REPEATS = 5


def measure(turns: int, layout: str) -> dict[str, float]:
    import psutil
    import torch

    from envkit.envs import QA_ENV_ID
    from envkit.policy.hf import GenerationSettings, HFPolicy
    from envkit.rollout.runner import RolloutRunner, env_factory
    from envkit.testing import tiny_model, tiny_tokenizer
    from envkit.train.loss import grpo_loss
    from envkit.train.packing import episode_turns, pack_episodes, pack_turns, token_logps

    torch.set_num_threads(2)
    cuda = torch.cuda.is_available()
    tokenizer = tiny_tokenizer()
    model = tiny_model(tokenizer).to("cuda" if cuda else "cpu")
    policy = HFPolicy(model, tokenizer, GenerationSettings(max_new_tokens=32, temperature=1.0), seed=0)
    make = env_factory(QA_ENV_ID, n_objectives=2, source="synthetic:passages=10000,seed=0", max_turns=turns)
    with RolloutRunner(make, policy, batch_size=EPISODES) as runner:
        episodes = [episode_turns(t) for t in runner.run(EPISODES)]
    pack = pack_episodes if layout == "masked" else pack_turns
    batch = {k: v.to(model.device) for k, v in pack(episodes, tokenizer.pad_token_id).as_dict().items()}
    advantages = torch.linspace(-1, 1, EPISODES, device=model.device)[batch["row_episode"].clamp(min=0)]
    model.train()
    times = []
    rss_before = psutil.Process().memory_info().rss
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    for _ in range(REPEATS):
        started = time.perf_counter()
        logps = token_logps(model, batch)
        loss, _ = grpo_loss(logps, batch["old_logps"], advantages, batch["completion_mask"])
        loss.backward()
        model.zero_grad(set_to_none=True)
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - started)
    peak = (torch.cuda.max_memory_allocated() if cuda else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
            - rss_before)  # fmt: skip
    return {
        "step_s_median": statistics.median(times),
        "peak_mib": peak / 2**20,
        "rows": int(batch["input_ids"].shape[0]),
        "row_length": int(batch["input_ids"].shape[1]),
        "tokens": int(batch["input_ids"].numel()),
        "loss_tokens": int(batch["completion_mask"].sum()),
    }


def main() -> None:
    if len(sys.argv) == 3:  # a child: one measurement
        print(json.dumps(measure(int(sys.argv[1]), sys.argv[2])))
        return
    import torch

    results: dict[str, dict[str, dict[str, float]]] = {}
    for turns in TURNS:
        results[f"T={turns}"] = {}
        for layout in LAYOUTS:
            child = subprocess.run([sys.executable, "-m", "benchmarks.train_packing", str(turns), layout],
                                   capture_output=True, text=True, check=True)  # fmt: skip
            results[f"T={turns}"][layout] = json.loads(child.stdout.strip().splitlines()[-1])
            print(turns, layout, results[f"T={turns}"][layout], flush=True)
        masked, per_turn = results[f"T={turns}"]["masked"], results[f"T={turns}"]["per_turn"]
        results[f"T={turns}"]["per_turn_over_masked_time"] = per_turn["step_s_median"] / masked["step_s_median"]
        results[f"T={turns}"]["per_turn_over_masked_memory"] = per_turn["peak_mib"] / max(masked["peak_mib"], 1e-9)
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu (2 threads)"
    name = "train_packing_gpu" if torch.cuda.is_available() else "train_packing"
    write_result(name, "python -m benchmarks.train_packing", {"device": device, **results}, {})


if __name__ == "__main__":
    main()
