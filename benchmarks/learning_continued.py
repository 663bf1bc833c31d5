"""A second look at the learning run: 12 more GRPO steps from its 12-step ``grpo`` checkpoint.

Not the benchmark's pre-set comparison (that is ``learning.json``'s GRPO against SFT
after 12 steps): this asks whether the held-out EM lift at N = 2 grows with more steps.
The continuation samples fresh tasks (seed 1; the first 12 steps used seed 0) with a new
optimizer state and the same profile, and is evaluated on the same 48 held-out N = 2
tasks, so the comparisons with SFT and with the 12-step model are paired. Needs the
learning run's work folder (``learning-work/learning``: ``sft``, ``grpo`` and
``partial.json``). Writes ``benchmarks/results/learning_grpo_continued.json``.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

from benchmarks.learning import FULL, RESULTS, bootstrap_difference, evaluate_stage, grpo_stage, solved
from benchmarks.measure import machine

WORK = Path("learning-work/learning")


def main() -> None:
    import torch

    torch.set_num_threads(2)
    started = time.perf_counter()
    curve = grpo_stage(WORK / "grpo", WORK / "grpo_continued", "consolidated", FULL, seed=1, lr=FULL.grpo_lr)
    train_s = time.perf_counter() - started
    started = time.perf_counter()
    held = evaluate_stage(str(WORK / "grpo_continued"), "consolidated", FULL, (2,))
    eval_s = time.perf_counter() - started
    stages = json.loads((WORK / "partial.json").read_text())["stages"]
    sft, grpo, mine = stages["sft"]["held_out"]["2"], stages["grpo"]["held_out"]["2"], held["2"]
    result = {
        "benchmark": "learning_grpo_continued",
        "command": "python -m benchmarks.learning_continued",
        "machine": machine(),
        "train_s": train_s,
        "eval_s": eval_s,
        "step_time_median_s": statistics.median(point["step_time"] for point in curve),
        "curve": curve,
        "held_out": held,
        "em_mean_n2_minus_sft": bootstrap_difference(sft["episode_em_mean"], mine["episode_em_mean"]),
        "em_mean_n2_minus_grpo12": bootstrap_difference(grpo["episode_em_mean"], mine["episode_em_mean"]),
        "success_n2_minus_sft": bootstrap_difference(solved(sft), solved(mine)),
    }
    path = RESULTS / "learning_grpo_continued.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({key: value for key, value in result.items() if key not in ("curve", "held_out")}, indent=1))
    print(f"wrote {path}", flush=True)


if __name__ == "__main__":
    main()
