"""Training step time and peak memory: masked-trajectory packing against one sequence per turn.

Episodes of T = 4, 8, 16 turns under the ``consolidated`` and the ``full`` context,
trained by the tiny model (``envkit.policy.tiny``, float32, CPU), come from two players:

- ``tiny``: the tiny model itself, on the bundled world at N = 2 (8 episodes, 32 new
  tokens per turn). Its random turns are mostly malformed, so under ``consolidated``
  its context hardly changes from turn to turn and the prefix tree shares nearly all of it.
- ``oracle``: the scripted oracle at N = T (each episode runs the full T turns), its
  turns tokenized with the tiny tokenizer. Its internal state changes every turn, as a
  trained agent's does, so ``consolidated`` contexts share only the prompt. Under
  ``full`` T = 4, 8 only: at T = 16 its prompt lists 16 questions and one step of the
  per-turn layout (128 rows of up to ~4k tokens, an L×L mask each) outgrows this machine.

One training step = the packed forward, the GRPO loss and the backward, on the same
episodes in every layout (``<rows>/<attention>``):

- ``masked/tiles``: one row per episode, its turns as a prefix tree, attention computed
  only on the tiles each turn can see (:mod:`envkit.tree_attention`; envkit's default);
- ``masked/dense``: the same rows under the dense L×L additive mask;
- ``per_turn/dense``: one row per turn with its whole context, padded, under a dense
  mask: how transformers runs padded rows (TRL's layout; the peer);
- ``per_turn/tiles``: the same rows with the tiles, which skip the causal upper
  triangle and the padding (the strongest per-turn peer).

Each (T, layout) is measured in a fresh process; peak memory is the process's peak RSS
above its RSS before the step (CPU), or ``torch.cuda.max_memory_allocated`` on CUDA.

    python -m benchmarks.train_packing          # writes results/train_packing.json (_gpu on a CUDA GPU)
    python -m benchmarks.train_packing --only oracle/consolidated   # some cells only
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
CONTEXTS = ("consolidated", "full")
PLAYERS = {"tiny": dict.fromkeys(CONTEXTS, TURNS), "oracle": {"consolidated": TURNS, "full": (4, 8)}}
LAYOUTS = ("masked/tiles", "masked/dense", "per_turn/dense", "per_turn/tiles")
EPISODES = 8
REPEATS = 5


def oracle_episodes(tokenizer: object, context: str, turns: int) -> list:
    """The oracle's episodes as token ids (log-probs are not needed for timing)."""
    from envkit.envs import QA_ENV_ID
    from envkit.packing import TurnTokens
    from envkit.policy.hf import encode_context
    from envkit.policy.specs import load_policy
    from envkit.rollout.runner import RolloutRunner, env_factory

    make = env_factory(
        QA_ENV_ID, n_objectives=turns, source="synthetic:passages=10000,seed=0", max_turns=turns, context=context
    )
    with RolloutRunner(make, load_policy("oracle"), batch_size=EPISODES) as runner:
        trajectories = runner.run(EPISODES)
    episodes = []
    for trajectory in trajectories:
        episode = []
        for turn in trajectory.turns:
            completion = tokenizer(turn.output, add_special_tokens=False)["input_ids"]  # type: ignore[operator]
            episode.append(TurnTokens(encode_context(tokenizer, turn.context), completion, [0.0] * len(completion)))
        episodes.append(episode)
    return episodes


def measure(player: str, context: str, turns: int, layout: str) -> dict[str, float]:
    import psutil
    import torch

    from envkit.envs import QA_ENV_ID
    from envkit.packing import Scoring, episode_turns, pack_episodes, pack_turns, token_logps
    from envkit.policy.hf import GenerationSettings, HFPolicy
    from envkit.policy.tiny import tiny_model, tiny_tokenizer
    from envkit.rollout.runner import RolloutRunner, env_factory
    from envkit.train.loss import grpo_loss

    torch.set_num_threads(2)
    cuda = torch.cuda.is_available()
    tokenizer = tiny_tokenizer()
    model = tiny_model(tokenizer).to("cuda" if cuda else "cpu")
    if player == "oracle":
        episodes = oracle_episodes(tokenizer, context, turns)
    else:
        policy = HFPolicy(model, tokenizer, GenerationSettings(max_new_tokens=32, temperature=1.0), seed=0)
        make = env_factory(
            QA_ENV_ID, n_objectives=2, source="synthetic:passages=10000,seed=0", max_turns=turns, context=context
        )
        with RolloutRunner(make, policy, batch_size=EPISODES) as runner:
            episodes = [episode_turns(t) for t in runner.run(EPISODES)]
    assert all(len(e) == turns for e in episodes), "every episode must run T turns"
    rows, attention = layout.split("/")
    pack = pack_episodes if rows == "masked" else pack_turns
    batch = {k: v.to(model.device) for k, v in pack(episodes, tokenizer.pad_token_id).as_dict().items()}
    advantages = torch.linspace(-1, 1, EPISODES, device=model.device)[batch["row_episode"].clamp(min=0)]
    model.train()
    times = []
    rss_before = psutil.Process().memory_info().rss
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    for _ in range(REPEATS):
        started = time.perf_counter()
        logps = token_logps(model, batch, scoring=Scoring(attention))
        loss, _ = grpo_loss(logps, batch["old_logps"], advantages, batch["completion_mask"])
        loss.backward()
        model.zero_grad(set_to_none=True)
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - started)
    peak = (
        torch.cuda.max_memory_allocated()
        if cuda
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - rss_before
    )
    return {
        "step_s_median": statistics.median(times),
        "peak_mib": peak / 2**20,
        "rows": int(batch["input_ids"].shape[0]),
        "row_length": int(batch["input_ids"].shape[1]),
        "tokens": int(batch["input_ids"].numel()),
        "loss_tokens": int(batch["completion_mask"].sum()),
    }


def _ratios(cell: dict[str, dict[str, float]]) -> dict[str, float]:
    """Step time and peak memory of each peer over envkit's layout (masked/tiles), from the same run."""
    ours = cell["masked/tiles"]
    ratios = {}
    for peer in ("per_turn/dense", "per_turn/tiles", "masked/dense"):
        ratios[f"{peer} time"] = cell[peer]["step_s_median"] / ours["step_s_median"]
        ratios[f"{peer} memory"] = cell[peer]["peak_mib"] / max(ours["peak_mib"], 1e-9)
    return ratios


def main() -> None:
    if len(sys.argv) == 5:  # a child: one measurement
        print(json.dumps(measure(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])))
        return
    import argparse

    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    cells = [f"{p}/{c}" for p in PLAYERS for c in CONTEXTS]
    parser.add_argument("--only", nargs="+", choices=cells, default=cells, help="player/context cells to run")
    chosen = parser.parse_args().only
    results: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    for player, context in [(p, c) for p in PLAYERS for c in CONTEXTS if f"{p}/{c}" in chosen]:
        key = f"{player}/{context}"
        results[key] = {}
        for turns in PLAYERS[player][context]:
            cell: dict[str, dict[str, float]] = {}
            for layout in LAYOUTS:
                child = subprocess.run(
                    [sys.executable, "-m", "benchmarks.train_packing", player, context, str(turns), layout],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                cell[layout] = json.loads(child.stdout.strip().splitlines()[-1])
                print(key, turns, layout, cell[layout], flush=True)
            cell["ratios"] = _ratios(cell)  # type: ignore[assignment]
            results[key][f"T={turns}"] = cell
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu (2 threads)"
    name = "train_packing_gpu" if torch.cuda.is_available() else "train_packing"
    command = "python -m benchmarks.train_packing" + ("" if chosen == cells else " --only " + " ".join(chosen))
    write_result(name, command, {"device": device, **results}, {})


if __name__ == "__main__":
    main()
