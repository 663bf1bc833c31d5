"""Composition throughput at N = 16 on one core, and peak memory while streaming.

Peer in the same run: what a data script does without composers (``random.sample``
per task from the question list, building dict records), the way MEM1's and
Search-R1's preprocessing scripts compose. Target (issue 2): at least 20k tasks/s
on one core for the parallel strategy.

    python -m benchmarks.compose_throughput
"""

from __future__ import annotations

import random
import time

from benchmarks.measure import median, peak_rss_mib, pin_one_core, repeat, write_result
from composers import SyntheticSource, compose

N = 16
TASKS = 20_000
REPEATS = 5


def naive_records(pool, count: int, seed: int) -> int:
    rng = random.Random(seed)
    made = 0
    for index in range(count):
        picked = rng.sample(pool, N)
        record = {
            "id": f"task-{index}",
            "objectives": [{"question": q.question, "golden_answers": list(q.golden_answers)} for q in picked],
        }
        made += len(record["objectives"]) == N
    return made


def main() -> None:
    pin_one_core()
    start = time.perf_counter()
    source = SyntheticSource(passages=100_000, seed=0)
    pool = source.questions("train")
    bank_seconds = time.perf_counter() - start
    rss_after_bank = peak_rss_mib()

    def consume(tasks) -> None:
        for _ in tasks:
            pass

    results: dict[str, object] = {"question_bank": {"questions": len(pool), "build_seconds": round(bank_seconds, 3)}}
    for strategy, count in (("parallel", TASKS), ("chained", TASKS // 10)):
        tasks = compose(source, strategy, n_objectives=N, count=count, seed=0)
        times = repeat(lambda tasks=tasks: consume(tasks), REPEATS)
        results[strategy] = {
            "tasks": count,
            "median_seconds": round(median(times), 4),
            "tasks_per_s": round(count / median(times)),
        }
    peer_times = repeat(lambda: naive_records(pool, TASKS, 0), REPEATS)
    results["peer_naive_random_sample_dicts"] = {"tasks": TASKS, "tasks_per_s": round(TASKS / median(peer_times))}
    results["parallel_vs_peer"] = round(
        results["parallel"]["tasks_per_s"] / results["peer_naive_random_sample_dicts"]["tasks_per_s"], 2
    )

    # streaming: 10x more tasks must not raise peak memory (O(N) per task)
    rss_before = peak_rss_mib()
    consume(compose(source, "parallel", n_objectives=N, count=20 * TASKS, seed=1))
    results["memory"] = {
        "peak_rss_mib_after_bank": round(rss_after_bank, 1),
        "peak_rss_mib_before_streaming": round(rss_before, 1),
        "peak_rss_mib_after_streaming_400k_tasks": round(peak_rss_mib(), 1),
    }
    write_result(
        "compose_throughput",
        "python -m benchmarks.compose_throughput",
        results,
        {"parallel_tasks_per_s_one_core_n16": ">= 20000"},
    )


if __name__ == "__main__":
    main()
