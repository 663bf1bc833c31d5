"""The learning benchmark: a real language model trained on 2 CPU cores, MEM1 in miniature.

SmolLM2-135M-Instruct (``smollm2``) learns the consolidated-state protocol on N = 2
tasks of the bundled world, as MEM1 trains on N = 2, and is evaluated on held-out test
tasks at N = 1, 2, 4, 8 (greedy decoding). Episodes have at most 3N + 2 turns, in
training (8 at N = 2) and evaluation (the oracle needs 2.7 at N = 1 and 14 at N = 8 on
average). Stages:

- ``base``: the untrained model (``consolidated``);
- ``sft``: supervised warm-up on oracle episodes (``Mem1SFTTrainer``, ``consolidated``);
- ``grpo``: GRPO from ``sft`` (``Mem1GRPOTrainer``, ``consolidated``);
- ``grpo_lr0``: the same GRPO run with learning rate 0 (the control: what sampling and
  the pipeline alone change; with one seed its step k plays ``grpo``'s tasks, so the
  training rewards pair up by step). Its weights come out as SFT's, bit for bit, which
  is checked, and then SFT's held-out figures are its own (greedy decoding replays them);
- ``sft_full`` / ``grpo_full``: the same two steps trained and evaluated with the
  ``full`` context (every turn kept), the baseline MEM1 compares against.

SFT and GRPO are compared on 48 paired held-out tasks at N = 2 (the same tasks for
both, so a paired bootstrap interval of the difference says whether GRPO lifted EM);
the other N get 12. GRPO samples with a bfloat16 copy of the weights and trains under
bf16 autocast (``logp_gap`` in the curve is what that costs in log-prob parity).

Writes ``benchmarks/results/learning.json`` (``learning_quick.json`` with ``--quick``)
and two PNG figures beside it. Every stage records its own wall time and the profile it
was trained and evaluated with; a stage's result is saved as soon as it ends
(``--work``), ``--resume`` skips the stages already done, so a long run can be
continued, and ``--reevaluate`` evaluates finished stages again under a changed
held-out profile without training them again. Nothing here asserts an outcome: the
figures are what the run measured.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.measure import RESULTS, machine

SOURCE = "synthetic:passages=10000,seed=0"
EVAL_SEED = 1234  # held-out tasks: the test split, composed with a seed of their own
STAGES = ("base", "sft", "grpo", "sft_full", "grpo_full", "grpo_lr0")  # the control last: it changes nothing


@dataclass(frozen=True)
class Profile:
    sft_episodes: int  # oracle episodes at N = 2
    sft_epochs: float
    grpo_steps: int
    grpo_tasks: int  # tasks per GRPO step (each played num_generations times)
    generations: int
    eval_ns: tuple[int, ...]
    eval_episodes: int
    train_n_eval_episodes: int  # at N = 2, where SFT and GRPO are compared: enough for a paired bootstrap
    sft_lr: float = 1e-4
    grpo_lr: float = 1e-5
    grpo_temperature: float = 0.7  # closer to the greedy policy evaluated; at 1.0 episodes collapsed to 2 turns
    max_new_tokens: int = 128
    grpo_bf16: bool = True  # autocast: rollouts decode 1.3x faster; the packed backward gains nothing here
    rollout_dtype: str | None = "bfloat16"  # the sampler's weights (6% more); logp_gap logs what both cost


QUICK = Profile(
    sft_episodes=4,
    sft_epochs=1,
    grpo_steps=1,
    grpo_tasks=2,
    generations=2,
    eval_ns=(1, 2),
    eval_episodes=2,
    train_n_eval_episodes=4,
    max_new_tokens=64,
)
FULL = Profile(
    sft_episodes=96,
    sft_epochs=1,
    grpo_steps=12,
    grpo_tasks=4,
    generations=4,
    eval_ns=(1, 2, 4, 8),
    eval_episodes=12,
    train_n_eval_episodes=48,
)
TRAIN_N = 2  # MEM1 trains on 2 objectives


def _load(spec: str) -> tuple[Any, Any]:
    from envkit.policy.models import load_model

    return load_model(spec, device="cpu")


def episodes_at(n: int, profile: Profile) -> int:
    """Held-out episodes at N: more at the training N, where SFT and GRPO are compared pairwise."""
    return profile.train_n_eval_episodes if n == TRAIN_N else profile.eval_episodes


def evaluate_stage(
    model_spec: str, builder: str, profile: Profile, ns: tuple[int, ...] | None = None
) -> dict[str, Any]:
    """Held-out figures per N: EM (mean and MEM1's sum), valid-turn rate, success, peak context tokens.

    Greedy decoding with bfloat16 weights (1.7x faster prefill on this CPU than float32;
    evaluation needs no log-prob parity with a training forward).
    """
    import gymnasium as gym
    import torch

    from envkit.envs import QA_ENV_ID
    from envkit.policy.hf import GenerationSettings, HFPolicy
    from envkit.policy.models import load_model
    from envkit.rollout.runner import RolloutRunner

    model, tokenizer = load_model(model_spec, device="cpu", dtype=torch.bfloat16)  # eval needs no log-prob parity
    settings = GenerationSettings(max_new_tokens=profile.max_new_tokens, temperature=0.0)
    policy = HFPolicy(model, tokenizer, settings, max_context_tokens=8192, device="cpu")
    held_out: dict[str, Any] = {}
    for n in profile.eval_ns if ns is None else ns:
        count = episodes_at(n, profile)

        def make(n: int = n, count: int = count) -> Any:
            return gym.make(
                QA_ENV_ID,
                n_objectives=n,
                source=SOURCE,
                split="test",
                seed=EVAL_SEED,
                count=count,
                context=builder,
                max_turns=3 * n + 2,
            )

        started = time.perf_counter()
        with RolloutRunner(make, policy, batch_size=min(count, 24)) as runner:
            trajectories = runner.run(count)
        turns = sum(len(t.turns) for t in trajectories)
        held_out[str(n)] = {
            "episodes": len(trajectories),
            "em_mean": statistics.fmean(t.em_mean or 0.0 for t in trajectories),
            "em_sum": statistics.fmean(t.em_sum or 0.0 for t in trajectories),
            "valid_turn_rate": 1 - sum(t.violations for t in trajectories) / max(turns, 1),
            "success": statistics.fmean(t.success for t in trajectories),
            "answered": statistics.fmean(t.terminated for t in trajectories),
            "peak_context_tokens": statistics.fmean(t.peak_context_tokens for t in trajectories),
            "turns": turns / len(trajectories),
            "episode_em_mean": [t.em_mean or 0.0 for t in trajectories],
            "eval_s": time.perf_counter() - started,
        }
        print(
            f"  N={n} {builder}: " + json.dumps({k: v for k, v in held_out[str(n)].items() if k != "episode_em_mean"}),
            flush=True,
        )
    return held_out


def sft_config(out: Path, builder: str, profile: Profile, seed: int) -> Any:
    """The SFT stage's config (README's ``envkit sft`` command spells the same one)."""
    from envkit.train.sft import Mem1SFTConfig

    return Mem1SFTConfig(
        output_dir=str(out),
        source=SOURCE,
        n_objectives=TRAIN_N,
        n_tasks=profile.sft_episodes,
        context=builder,
        num_train_epochs=profile.sft_epochs,
        per_device_train_batch_size=1,
        gradient_accumulation_steps=4,
        learning_rate=profile.sft_lr,
        lr_scheduler_type="cosine",
        warmup_steps=0.05,
        answer_weight=2.0,
        bf16=True,  # CPU autocast: 1.6x faster here; imitation needs no log-prob parity
        report_to="none",
        save_strategy="no",
        seed=seed,
    )


def sft_stage(out: Path, builder: str, profile: Profile, seed: int) -> list[dict[str, Any]]:
    from envkit.train.sft import Mem1SFTTrainer

    model, tokenizer = _load("smollm2")
    args = sft_config(out, builder, profile, seed)
    trainer = Mem1SFTTrainer(model, args, processing_class=tokenizer)
    trainer.train()
    trainer.save_model(str(out))
    return [{"step": h["step"], "loss": h["loss"]} for h in trainer.state.log_history if "loss" in h]


def grpo_config(out: Path, builder: str, profile: Profile, seed: int, lr: float) -> Any:
    """The GRPO stage's config (README's ``envkit train`` command spells the same one)."""
    from envkit.train import Mem1GRPOConfig

    episodes = profile.grpo_tasks * profile.generations
    return Mem1GRPOConfig(
        output_dir=str(out),
        source=SOURCE,
        n_objectives=TRAIN_N,
        n_tasks=2000,
        context=builder,
        max_turns=3 * TRAIN_N + 2,
        num_generations=profile.generations,
        per_device_train_batch_size=1,  # one packed episode per forward: its attention is materialised on a CPU
        gradient_accumulation_steps=episodes,
        rollout_batch_size=episodes,
        max_steps=profile.grpo_steps,
        max_completion_length=profile.max_new_tokens,
        learning_rate=lr,
        lr_scheduler_type="constant",
        beta=0.0,
        bf16=profile.grpo_bf16,
        rollout_dtype=profile.rollout_dtype,
        temperature=profile.grpo_temperature,
        format_reward_weight=0.2,
        max_context_tokens=8192,
        report_to="none",
        save_strategy="no",
        seed=seed,
    )


def grpo_stage(start: Path, out: Path, builder: str, profile: Profile, seed: int, lr: float) -> list[dict[str, Any]]:
    from envkit.train import Mem1GRPOTrainer

    model, tokenizer = _load(str(start))
    args = grpo_config(out, builder, profile, seed, lr)
    trainer = Mem1GRPOTrainer(model, args, processing_class=tokenizer)
    trainer.train()
    trainer.save_model(str(out))
    keys = (
        "reward",
        "rewards/env_reward/mean",
        "episode/em_sum",
        "episode/success",
        "episode/violations",
        "episode/turns",
        "episode/peak_context_tokens",
        "logp_gap",
        "clip_ratio",
        "step_time",
    )
    return [
        {"step": h["step"], **{k: h[k] for k in keys if k in h}} for h in trainer.state.log_history if "reward" in h
    ]


def bootstrap_difference(
    a: list[float], b: list[float], resamples: int = 5000, seed: int = 0
) -> dict[str, float] | None:
    """Mean of ``b - a`` over paired episodes (the same held-out tasks) and its 95% bootstrap interval.

    None when the two stages were evaluated on different numbers of tasks (not paired).
    """
    if len(a) != len(b):
        return None
    rng = random.Random(seed)
    pairs = list(zip(a, b, strict=True))
    means = sorted(statistics.fmean(y - x for x, y in (rng.choice(pairs) for _ in pairs)) for _ in range(resamples))
    return {
        "difference": statistics.fmean(y - x for x, y in pairs),
        "low_95": means[int(0.025 * resamples)],
        "high_95": means[int(0.975 * resamples) - 1],
    }


def solved(held: dict[str, Any]) -> list[float]:
    """1 for each held-out task of an evaluation with every answer right (success), else 0."""
    return [float(em == 1.0) for em in held["episode_em_mean"]]


def comparisons(stages: dict[str, Any]) -> dict[str, Any]:
    """What the run shows, computed from the stages that ran (nothing asserted)."""
    found: dict[str, Any] = {}

    def held(name: str, n: str) -> dict[str, Any] | None:
        return stages.get(name, {}).get("held_out", {}).get(n)

    base, sft = held("base", "2"), held("sft", "2")
    if base and sft:
        found["valid_turn_rate_n2_base_to_sft"] = [base["valid_turn_rate"], sft["valid_turn_rate"]]
    grpo = held("grpo", "2")
    if sft and grpo:
        found["em_mean_n2_grpo_minus_sft"] = bootstrap_difference(sft["episode_em_mean"], grpo["episode_em_mean"])
        found["success_n2_grpo_minus_sft"] = bootstrap_difference(solved(sft), solved(grpo))
    lr0 = held("grpo_lr0", "2")
    if sft and lr0:
        found["em_mean_n2_grpo_lr0_minus_sft"] = bootstrap_difference(sft["episode_em_mean"], lr0["episode_em_mean"])
    learned, control = (stages.get(name, {}).get("curve", []) for name in ("grpo", "grpo_lr0"))
    if learned and control:  # one seed: step k of both runs plays the same tasks, so the steps pair up
        found["train_reward_grpo_minus_lr0_per_step"] = bootstrap_difference(
            [point["reward"] for point in control], [point["reward"] for point in learned]
        )
    for trained in ("sft", "grpo"):  # MEM1's claim: at N = 8 (never trained on), consolidated against full
        for n in ("8", "4", "2"):
            consolidated, full = held(trained, n), held(f"{trained}_full", n)
            if consolidated and full:
                found[f"{trained}_n{n}_consolidated_vs_full"] = {
                    "em_mean": [consolidated["em_mean"], full["em_mean"]],
                    "em_mean_full_minus_consolidated": bootstrap_difference(
                        consolidated["episode_em_mean"], full["episode_em_mean"]
                    ),
                    "peak_context_tokens": [consolidated["peak_context_tokens"], full["peak_context_tokens"]],
                    "peak_ratio_full_over_consolidated": full["peak_context_tokens"]
                    / max(consolidated["peak_context_tokens"], 1.0),
                }
                break
    return found


def plot(results: dict[str, Any], stem: str) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stages = results["stages"]
    look: dict[str, dict[str, Any]] = {name: {"color": f"C{i}"} for i, name in enumerate(STAGES)}  # one per stage
    for name, stage in stages.items():
        if "held_out_from" in stage:  # dashed: drawn over the stage it copies, which would hide it
            look[name]["linestyle"] = "--"
    figure, (loss_axis, reward_axis) = plt.subplots(1, 2, figsize=(11, 4))
    for name in ("sft", "sft_full"):
        curve = stages.get(name, {}).get("curve", [])
        if curve:
            loss_axis.plot([p["step"] for p in curve], [p["loss"] for p in curve], label=name, marker=".", **look[name])
    loss_axis.set(title="SFT on oracle episodes (N=2)", xlabel="optimizer step", ylabel="loss (weighted token NLL)")
    loss_axis.legend()
    for name in ("grpo", "grpo_lr0", "grpo_full"):
        curve = stages.get(name, {}).get("curve", [])
        if curve:
            reward_axis.plot(
                [p["step"] for p in curve], [p.get("reward", 0) for p in curve], label=name, marker=".", **look[name]
            )
    reward_axis.set(title="GRPO training reward (N=2)", xlabel="optimizer step", ylabel="mean episode reward")
    reward_axis.legend()
    figure.tight_layout()
    curves = RESULTS / f"{stem}_curves.png"
    figure.savefig(curves, dpi=110)
    plt.close(figure)

    figure, (em_axis, peak_axis) = plt.subplots(1, 2, figsize=(11, 4))
    for name, stage in stages.items():
        held = stage.get("held_out", {})
        ns = sorted(held, key=int)
        label = f"{name} (= {stage['held_out_from'].split()[0]})" if "held_out_from" in stage else name
        em_axis.plot([int(n) for n in ns], [held[n]["em_mean"] for n in ns], label=label, marker="o", **look[name])
        if name in ("grpo", "grpo_full", "sft", "sft_full"):
            peak_axis.plot(
                [int(n) for n in ns], [held[n]["peak_context_tokens"] for n in ns], label=name, marker="o", **look[name]
            )
    em_axis.set(title="held-out EM (mean over objectives)", xlabel="objectives N", ylabel="EM")
    peak_axis.set(title="peak context tokens", xlabel="objectives N", ylabel="tokens")
    for axis in (em_axis, peak_axis):
        axis.set_xscale("log", base=2)
        axis.minorticks_off()
        axis.set_xticks(results["profile"]["eval_ns"], [str(n) for n in results["profile"]["eval_ns"]])
        axis.legend()
    figure.tight_layout()
    held_out = RESULTS / f"{stem}_heldout.png"
    figure.savefig(held_out, dpi=110)
    plt.close(figure)
    return [curves.name, held_out.name]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke of every stage (about 10 minutes)")
    parser.add_argument("--stages", default=",".join(STAGES), help="stages to run, in order")
    parser.add_argument("--work", type=Path, default=Path("learning-work"), help="models and partial results")
    parser.add_argument("--resume", action="store_true", help="skip the stages the work folder already holds")
    parser.add_argument(
        "--reevaluate",
        default="",
        help="stages (done before, in the work folder) to evaluate again with this profile, keeping their training",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(2)
    profile = QUICK if args.quick else FULL
    stem = "learning_quick" if args.quick else "learning"
    work = args.work / stem
    work.mkdir(parents=True, exist_ok=True)
    partial = work / "partial.json"
    stages: dict[str, Any] = json.loads(partial.read_text())["stages"] if args.resume and partial.exists() else {}
    command = "python -m benchmarks.learning" + (" --quick" if args.quick else "")
    invocation = " ".join(["python -m benchmarks.learning", *sys.argv[1:]])  # what this run was asked (resume, ...)
    wanted = [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = set(wanted) - set(STAGES)
    if unknown:
        parser.error(f"unknown stage(s) {', '.join(sorted(unknown))} (choose from {', '.join(STAGES)})")
    for name in [s.strip() for s in args.reevaluate.split(",") if s.strip()]:
        if name not in stages:
            parser.error(f"--reevaluate {name}: the work folder holds no finished stage of that name (use --resume)")
        record = stages[name]
        held = record["held_out"]  # greedy decoding: a held-out set that did not change needs no second run
        changed = tuple(n for n in profile.eval_ns if held.get(str(n), {}).get("episodes") != episodes_at(n, profile))
        print(f"{name}: evaluating again at N = {changed}", flush=True)
        started = time.perf_counter()
        held.update(evaluate_stage(stage_model(work, name), record["context"], profile, changed))
        record["eval_s"] = sum(h["eval_s"] for h in held.values())
        record["reevaluated_s"] = time.perf_counter() - started
        record["reevaluated_with"] = invocation
        record["profile"] = {**record.get("profile", {}), "eval": asdict(profile)}
        partial.write_text(json.dumps({"stages": stages}, indent=1))
        write_results(stages, profile, stem, command)
    for name in wanted:
        if name in stages:
            print(f"{name}: done before (--resume)", flush=True)
            continue
        print(f"{name}: ...", flush=True)
        builder = "full" if name.endswith("_full") else "consolidated"
        started = time.perf_counter()
        record: dict[str, Any] = {"context": builder, "run_with": invocation}
        if name.startswith("sft"):
            record["curve"] = sft_stage(work / name, builder, profile, args.seed)
        elif name != "base":
            start = work / ("sft_full" if builder == "full" else "sft")
            lr = 0.0 if name == "grpo_lr0" else profile.grpo_lr
            record["curve"] = grpo_stage(start, work / name, builder, profile, args.seed, lr)
        record["train_s"] = time.perf_counter() - started
        record["profile"] = {"train": asdict(profile), "eval": asdict(profile)}
        started = time.perf_counter()
        twin = identical_twin(work, name, stages, profile)
        if twin:  # greedy decoding of the same weights gives the same episodes: they were measured already
            record["held_out"] = stages[twin]["held_out"]
            record["held_out_from"] = f"{twin} (weights bit for bit the same)"
        else:
            record["held_out"] = evaluate_stage(stage_model(work, name), builder, profile)
        record["eval_s"] = time.perf_counter() - started
        stages[name] = record
        partial.write_text(json.dumps({"stages": stages}, indent=1))
        print(f"{name}: train {record['train_s']:.0f} s, eval {record['eval_s']:.0f} s", flush=True)
        write_results(stages, profile, stem, command)  # after every stage: a stopped run still leaves its figures
    if stages:
        write_results(stages, profile, stem, command)


def identical_twin(work: Path, name: str, stages: dict[str, Any], profile: Profile) -> str | None:
    """The finished stage ``name`` is a bit-for-bit copy of, if any: ``grpo_lr0`` of ``sft``.

    A learning rate of 0 leaves every weight as it was (AdamW's decay is scaled by the
    rate too), so greedy evaluation of the control would replay SFT's episodes token for
    token; the weights are compared, not assumed, and SFT must have been evaluated on
    the same held-out tasks.
    """
    if name != "grpo_lr0" or "sft" not in stages:
        return None
    held = stages["sft"]["held_out"]
    if any(held.get(str(n), {}).get("episodes") != episodes_at(n, profile) for n in profile.eval_ns):
        return None
    files = [work / stage / "model.safetensors" for stage in (name, "sft")]
    if not all(file.is_file() for file in files):  # a sharded or missing checkpoint: evaluate it instead
        return None
    from safetensors.torch import load_file

    mine, theirs = (load_file(str(file)) for file in files)
    same = mine.keys() == theirs.keys() and all(mine[key].equal(theirs[key]) for key in mine)
    return "sft" if same else None


def stage_model(work: Path, name: str) -> str:
    """The model a stage evaluates: the untrained one for ``base``, else the stage's saved checkpoint."""
    return "smollm2" if name == "base" else str(work / name)


def write_results(stages: dict[str, Any], profile: Profile, stem: str, command: str) -> None:
    results = {
        "benchmark": stem,
        "model": "smollm2 (SmolLM2-135M-Instruct, 134.5M parameters; float32 weights, "
        "bf16 autocast training, bf16 GRPO sampler, bf16 eval)",
        "command": command,
        "machine": machine(),
        "profile": asdict(profile),
        "stages_run": [name for name in STAGES if name in stages],
        "invocations": sorted(
            {s[key] for s in stages.values() for key in ("run_with", "reevaluated_with") if key in s}
        ),
        "stages": [{"name": name, **stages[name]} for name in STAGES if name in stages],
        "train_curve": [
            {"stage": name, **point} for name in STAGES if name in stages for point in stages[name].get("curve", [])
        ],
        "comparisons": comparisons(stages),
        "stage_minutes": {name: round((s["train_s"] + s["eval_s"]) / 60, 1) for name, s in stages.items()},
        "total_minutes": round(sum(s["train_s"] + s["eval_s"] for s in stages.values()) / 60, 1),
    }
    results["figures"] = plot({"stages": stages, "profile": asdict(profile)}, stem)
    path = RESULTS / f"{stem}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results["comparisons"], indent=2))
    print(f"wrote {path}", flush=True)


if __name__ == "__main__":
    main()
