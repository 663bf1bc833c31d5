"""Answer two questions and buy one product in one episode, in text mode or in Chromium.

Composes mixed tasks (two questions from the bundled world, one goal from the bundled
shop), plays them with the scripted oracle, and prints the reward and the context the
agent saw at its peak. Run ``python examples/mixed_qa_and_shop.py --browser`` to play
the shop part in a real Chromium (``apt-get install chromium``; ``envkit shop doctor``).
"""

from __future__ import annotations

import argparse

import gymnasium as gym

import envkit  # noqa: F401  (registers the envs)
from composers import compose
from envkit.kinds.oracle import TaskOracle
from envkit.rollout.episode import run_episode


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--browser", action="store_true", help="play the shop part in Chromium")
    parser.add_argument("--episodes", type=int, default=5)
    args = parser.parse_args()

    world, shop = "synthetic:passages=2000,seed=3", "shop:products=1000,seed=0"
    tasks = compose([world, shop], "mixed", n_objectives=3, count=100, split="test", counts=(2, 1))
    tasks.write("mixed_test.jsonl")
    print(f"wrote {len(tasks)} mixed tasks to mixed_test.jsonl; the first one:")
    for objective in tasks[0].objectives:
        print(f"  [{objective.kind}] {objective.question}")

    env = gym.make("envkit/Composite-v0", task_file="mixed_test.jsonl", mode="browser" if args.browser else "text")
    oracle = TaskOracle()  # each kind's oracle in turn: questions, then the purchase
    try:
        for index in range(args.episodes):
            result = run_episode(env, oracle, task_index=index)
            turns, peak = len(result.turns), result.peak_context_tokens
            print(f"task {index}: reward {result.reward:.2f} in {turns} turns, peak context {peak} tokens")
    finally:
        env.close()


if __name__ == "__main__":
    main()
