"""Env step overhead, retrieval excluded: parse + act + context + token accounting.

The retriever is replaced by one that returns three fixed passages, so the time is
the env's own. Measured through ``gym.make`` (with Gymnasium's order and passive
checkers) and on the bare env; the peer in the same run is the protocol parser
alone on the same turn. Target (issue 2): median step at most 50 microseconds.

Also the time ``gym.make("envkit/Composite-v0")`` takes at 1k and at 100k composed
tasks: its shop comes from its argument, so the task count should not matter (issue 16;
before, every task was composed to find the shop: 1.2 s and 4.5 s).

    python -m benchmarks.env_step
"""

from __future__ import annotations

import time

import gymnasium as gym

import envkit  # noqa: F401
from benchmarks.measure import median, pin_one_core, write_result
from envkit.envs import COMPOSITE_ENV_ID, QA_ENV_ID
from envkit.protocol.parser import parse_turn
from envkit.protocol.tags import QA_TAGS
from envkit.retrieval import Passage

STEPS = 20_000
PASSAGES = [
    Passage(str(i), f"Title {i}", "Some passage text about an entity, about forty words long. " * 4) for i in range(3)
]


class FixedRetriever:
    def search(self, query, k=3):
        return PASSAGES[:k]

    def batch_search(self, queries, k=3):
        return [PASSAGES[:k] for _ in queries]


TURN = QA_TAGS.format_turn(
    "Answers so far: 1. Alan Brix; 2. 1923. 14 question(s) left.", "search", "Velmora Industries"
)


def step_times(env, steps: int) -> list[float]:
    times = []
    env.reset(seed=0)
    for _ in range(steps):
        start = time.perf_counter()
        _, _, terminated, truncated, _ = env.step(TURN)
        times.append(time.perf_counter() - start)
        if terminated or truncated:
            env.reset()
    return times


def main() -> None:
    pin_one_core()
    results: dict[str, object] = {}
    source = "synthetic:passages=2000"
    for context in ("consolidated", "full"):
        env = gym.make(QA_ENV_ID, n_objectives=16, source=source, retriever=FixedRetriever(), context=context)
        times = step_times(env, STEPS)
        results[f"gym_make_{context}_median_us"] = round(median(times) * 1e6, 2)
    bare = gym.make(QA_ENV_ID, n_objectives=16, source=source, retriever=FixedRetriever()).unwrapped
    results["bare_env_median_us"] = round(median(step_times(bare, STEPS)) * 1e6, 2)
    parse = []
    for _ in range(STEPS):
        start = time.perf_counter()
        parse_turn(TURN)
        parse.append(time.perf_counter() - start)
    results["peer_parse_turn_only_median_us"] = round(median(parse) * 1e6, 2)
    results["consolidated_step_vs_parse"] = round(
        results["gym_make_consolidated_median_us"] / results["peer_parse_turn_only_median_us"], 2
    )
    gym.make(COMPOSITE_ENV_ID, count=10).close()  # builds the world's index and the shop once (cached)
    for count in (1_000, 100_000):
        makes = []
        for _ in range(3):
            start = time.perf_counter()
            gym.make(COMPOSITE_ENV_ID, count=count).close()
            makes.append(time.perf_counter() - start)
        results[f"make_composite_{count}_tasks_median_s"] = round(median(makes), 3)
    results["setting"] = "N=16, 68 turns per episode (4N+4), three fixed passages per search"
    write_result("env_step", "python -m benchmarks.env_step", results, {"median_step_us_excluding_retrieval": "<= 50"})


if __name__ == "__main__":
    main()
