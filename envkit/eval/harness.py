"""The eval harness: a policy against tasks at several N under several context builders.

An :class:`EvalCase` is one cell of MEM1's table: the number of objectives N, a context
builder, and a factory for the env that serves its tasks (composed on the fly or read
from a suite's task file). :func:`evaluate` plays every case through the
:class:`~envkit.rollout.runner.RolloutRunner`, optionally writes every trajectory to a
JSONL file, and returns one :class:`EvalRow` per case; :mod:`envkit.eval.report` turns
the rows into a markdown table and plots.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import gymnasium as gym

from composers.suites import read_manifest
from envkit.policy.base import Policy
from envkit.rollout.runner import RolloutRunner
from envkit.rollout.trajectory import Trajectory, drop_partial_tail, read_trajectories, write_trajectories

__all__ = ["EvalCase", "EvalRow", "env_settings", "evaluate", "suite_cases", "summarise"]


@dataclass(frozen=True, slots=True)
class EvalCase:
    """One (N, context builder) cell and how to build its env (``make_env(context=builder)``)."""

    n_objectives: int
    builder: str
    make_env: Callable[..., gym.Env[str, str]]
    label: str = ""


@dataclass(frozen=True, slots=True)
class EvalRow:
    """Aggregates over the episodes of one case (means unless said otherwise)."""

    n_objectives: int
    builder: str
    episodes: int
    em_sum: float | None  # MEM1's figure: objectives answered exactly, summed per episode
    em_mean: float | None
    f1_mean: float | None
    success: float
    reward: float
    peak_context_tokens: float  # the mean over episodes of each episode's peak
    mean_context_tokens: float
    dependency: float
    turns: float
    violations: float
    budget_exceeded: int  # episodes ended by a context over the policy's budget
    generated_tokens: int  # total
    wall_s: float  # wall time of the whole case
    tokens_per_s: float  # generated tokens per second of wall time
    gpu_peak_bytes: int | None  # the largest over episodes (CUDA only)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _metric_mean(trajectories: Sequence[Trajectory], metric: str) -> float | None:
    """The mean of a metric the env reports (0 for an episode without it); None when no env reported it."""
    if not any(metric in t.metrics for t in trajectories):
        return None
    return statistics.fmean(t.metrics.get(metric, 0.0) for t in trajectories)


def summarise(trajectories: Sequence[Trajectory], n_objectives: int, builder: str, wall_s: float) -> EvalRow:
    """One row from the trajectories of one case."""
    if not trajectories:
        raise ValueError("no trajectories to summarise")
    generated = sum(t.generated_tokens for t in trajectories)
    peaks = [t.gpu_peak_bytes for t in trajectories if t.gpu_peak_bytes is not None]
    return EvalRow(
        n_objectives=n_objectives,
        builder=builder,
        episodes=len(trajectories),
        em_sum=_metric_mean(trajectories, "em_sum"),
        em_mean=_metric_mean(trajectories, "em_mean"),
        f1_mean=_metric_mean(trajectories, "f1_mean"),
        success=statistics.fmean(t.success for t in trajectories),
        reward=statistics.fmean(t.reward for t in trajectories),
        peak_context_tokens=statistics.fmean(t.peak_context_tokens for t in trajectories),
        mean_context_tokens=statistics.fmean(t.mean_context_tokens for t in trajectories),
        dependency=statistics.fmean(t.dependency for t in trajectories),
        turns=statistics.fmean(len(t.turns) for t in trajectories),
        violations=statistics.fmean(t.violations for t in trajectories),
        budget_exceeded=sum(t.budget_exceeded for t in trajectories),
        generated_tokens=generated,
        wall_s=wall_s,
        tokens_per_s=generated / wall_s if wall_s > 0 else 0.0,
        gpu_peak_bytes=max(peaks) if peaks else None,
    )


def evaluate(
    cases: Sequence[EvalCase],
    policy: Policy,
    episodes: int,
    batch_size: int = 1,
    trajectories_path: str | Path | None = None,
    token_ids: bool = False,
    on_episode: Callable[[EvalCase, Trajectory], None] | None = None,
    resume: bool = False,
    played_with: dict[str, Any] | None = None,
) -> list[EvalRow]:
    """Play ``episodes`` episodes per case (episode ``i`` plays task ``i`` in every case) and summarise.

    Playing the same tasks under every builder makes the builders' columns a paired
    comparison. Trajectories are appended to ``trajectories_path`` as each episode ends;
    with ``resume``, the episodes that file already holds for a case (same N, builder and
    task) are not played again but counted in its row (its wall time is this run's).
    ``played_with``, when given, receives :func:`env_settings` of the first case's env, so a
    report can say what the episodes were played with.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be at least 1, got {episodes}")
    done = _played(trajectories_path) if resume and trajectories_path is not None else {}
    rows = []
    for case in cases:
        runner = RolloutRunner(partial(case.make_env, context=case.builder), policy, batch_size)
        with runner:
            count = min(episodes, runner.n_tasks)
            if played_with is not None and not played_with:
                played_with.update(env_settings(runner.first_env))
            held = {t.task_index: t for t in done.get((case.n_objectives, case.builder, case.label), ())}
            started = time.perf_counter()
            callback = partial(_finished, case, on_episode, trajectories_path, token_ids)
            fresh = runner.run([i for i in range(count) if i not in held], on_episode=callback)
            wall = time.perf_counter() - started
        trajectories = sorted([*(held[i] for i in range(count) if i in held), *fresh], key=lambda t: t.task_index)
        rows.append(summarise(trajectories, case.n_objectives, case.builder, wall))
    return rows


def env_settings(env: gym.Env[str, str]) -> dict[str, Any]:
    """What an env plays with, read from the env itself: its retriever, top-k, turn limit and scoring.

    A composite env is read through its parts (the QA part holds the retriever), so the
    figures name the settings that produced them whatever the kind.
    """
    base = env.unwrapped
    parts = [base, *getattr(base, "parts", {}).values()]
    settings: dict[str, Any] = {}
    for part in parts:
        if getattr(part, "retriever", None) is not None:
            settings["retriever"] = repr(part.retriever)
        if getattr(part, "top_k", None) is not None:
            settings["top-k"] = part.top_k
        scoring = getattr(part, "scoring", None)
        if scoring is not None:
            settings["metric"] = scoring.metric
            settings["reward aggregation"] = scoring.reward
    limit = getattr(base, "max_turns", None)
    settings["max turns"] = limit if limit else "each task's turn budget"
    return settings


def _played(path: str | Path) -> dict[tuple[int, str, str], list[Trajectory]]:
    """The trajectories a file already holds, by (N, builder, case label)."""
    if not Path(path).exists():
        return {}
    drop_partial_tail(path)
    played: dict[tuple[int, str, str], list[Trajectory]] = {}
    for trajectory in read_trajectories(path):
        key = (trajectory.n_objectives, trajectory.builder, trajectory.case)
        played.setdefault(key, []).append(trajectory)
    return played


def _finished(
    case: EvalCase,
    on_episode: Callable[[EvalCase, Trajectory], None] | None,
    path: str | Path | None,
    token_ids: bool,
    trajectory: Trajectory,
) -> None:
    """Each episode is written the moment it ends, so an error later loses none of them."""
    trajectory.case = case.label
    if path is not None:
        write_trajectories([trajectory], path, token_ids)
    if on_episode is not None:
        on_episode(case, trajectory)


def suite_cases(folder: str | Path, builders: Sequence[str], split: str = "test", **env_options: Any) -> list[EvalCase]:
    """One case per (task file of ``split``, builder) of a suite, in the manifest's order."""
    from envkit.envs import TASK_FILE_ENV_ID

    folder = Path(folder)
    manifest = read_manifest(folder)
    if "corpus" in manifest:  # the corpus the suite was generated against, unless the caller names another
        env_options.setdefault("corpus", manifest["corpus"])
    entries = [e for e in manifest["files"] if e["split"] == split]
    if not entries:
        raise ValueError(f"{folder}: the suite has no {split!r} task files")
    cases: list[EvalCase] = []
    for entry in entries:
        path = folder / Path(entry["path"]).name

        def make_env(path: Path = path, **options: Any) -> gym.Env[str, str]:
            return gym.make(TASK_FILE_ENV_ID, task_file=path, **{**env_options, **options})

        cases.extend(EvalCase(int(entry["n_objectives"]), b, make_env, entry["path"]) for b in builders)
    return cases
