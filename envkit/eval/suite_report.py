"""A suite's results across policies: the table a paper prints, with intervals, seeds and versions.

``envkit suite report SUITE --policy oracle --policy random --policy smollm2`` plays every
test file of the suite with each policy (the same tasks in the same order, so the
columns are paired) and writes ``report.md`` and ``report.json``: per policy, task file
(N) and context builder, the episodes, mean EM and success with 95% bootstrap intervals
(percentile, over episodes, seeded), peak context tokens and violations; and what
reproduces it: the command, the suite's preset, seed and manifest digest, the sampling
seed, and the versions of envkit and the libraries it ran on.
"""

from __future__ import annotations

import hashlib
import json
import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from composers.suites import read_manifest
from envkit.eval.harness import EvalCase, evaluate, suite_cases
from envkit.policy.base import Policy
from envkit.rollout.trajectory import Trajectory

__all__ = ["PolicyResult", "bootstrap_interval", "library_versions", "suite_report", "write_suite_report"]

VERSIONED = ("mem1-envkit", "gymnasium", "torch", "transformers", "trl", "datasets")


@dataclass(frozen=True, slots=True)
class PolicyResult:
    """One policy on one (task file, builder) cell: means and 95% intervals over its episodes."""

    policy: str
    task_file: str
    n_objectives: int
    builder: str
    episodes: int
    em_mean: float
    em_interval: tuple[float, float]
    success: float
    success_interval: tuple[float, float]
    peak_context_tokens: float
    violations: float


def bootstrap_interval(values: Sequence[float], seed: int = 0, resamples: int = 2000) -> tuple[float, float]:
    """The 95% percentile-bootstrap interval of the mean of ``values`` (a point for one value or none)."""
    if len(values) < 2:
        point = float(values[0]) if values else 0.0
        return point, point
    rng = random.Random(seed)
    means = sorted(statistics.fmean(rng.choices(values, k=len(values))) for _ in range(resamples))
    return means[int(0.025 * resamples)], means[min(resamples - 1, int(0.975 * resamples))]


def library_versions() -> dict[str, str]:
    """The installed versions of envkit and the libraries its figures depend on."""
    found = {}
    for name in VERSIONED:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


def _result(policy: str, case: EvalCase, trajectories: Sequence[Trajectory], seed: int) -> PolicyResult:
    em = [t.metrics.get("em_mean", float(t.success)) for t in trajectories]
    success = [float(t.success) for t in trajectories]
    return PolicyResult(
        policy=policy,
        task_file=case.label,
        n_objectives=case.n_objectives,
        builder=case.builder,
        episodes=len(trajectories),
        em_mean=statistics.fmean(em),
        em_interval=bootstrap_interval(em, seed),
        success=statistics.fmean(success),
        success_interval=bootstrap_interval(success, seed),
        peak_context_tokens=statistics.fmean(t.peak_context_tokens for t in trajectories),
        violations=statistics.fmean(t.violations for t in trajectories),
    )


def suite_report(
    folder: str | Path,
    policies: Sequence[tuple[str, Policy]],
    builders: Sequence[str],
    episodes: int,
    seed: int = 0,
    on_episode: Callable[[str, EvalCase, Trajectory], None] | None = None,
    **env_options: Any,
) -> list[PolicyResult]:
    """Every (policy, test file, builder) cell of the suite in ``folder``, ``episodes`` episodes each."""
    cases = suite_cases(folder, builders, **env_options)
    results = []
    for name, policy in policies:
        played: dict[tuple[str, str], list[Trajectory]] = {}

        def keep(case: EvalCase, trajectory: Trajectory, name: str = name, played: dict = played) -> None:
            played.setdefault((case.label, case.builder), []).append(trajectory)
            if on_episode is not None:
                on_episode(name, case, trajectory)

        evaluate(cases, policy, episodes, on_episode=keep)
        for case in cases:
            trajectories = sorted(played.get((case.label, case.builder), []), key=lambda t: t.task_index)
            if trajectories:
                results.append(_result(name, case, trajectories, seed))
    return results


def _interval(mean: float, interval: tuple[float, float]) -> str:
    return f"{mean:.3f} [{interval[0]:.3f}, {interval[1]:.3f}]"


def markdown(results: Sequence[PolicyResult]) -> str:
    """The results as a Markdown table, one row per (policy, task file, builder)."""
    head = "| policy | N | context | episodes | EM [95% CI] | success [95% CI] | peak tokens | violations |"
    lines = [head, "|---|---:|---|---:|---|---|---:|---:|"]
    for r in results:
        em, success = _interval(r.em_mean, r.em_interval), _interval(r.success, r.success_interval)
        cells = f"{r.builder} | {r.episodes} | {em} | {success} | {r.peak_context_tokens:,.0f} | {r.violations:.2f}"
        lines.append(f"| {r.policy} | {r.n_objectives} | {cells} |")
    return "\n".join(lines)


def write_suite_report(
    results: Sequence[PolicyResult], folder: str | Path, output: str | Path, command: str, seed: int
) -> Path:
    """``report.md`` and ``report.json`` in ``output``: the table and how to reproduce it."""
    manifest = read_manifest(folder)
    digest = hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()
    versions = library_versions()
    provenance = {
        "command": command,
        "suite": {"folder": str(folder), "preset": manifest["preset"], "seed": manifest["seed"], "sha256": digest},
        "sampling_seed": seed,
        "interval": "95% percentile bootstrap of the mean over episodes, 2000 resamples",
        "versions": versions,
    }
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    record = {**provenance, "results": [asdict(r) for r in results]}
    (out / "report.json").write_text(json.dumps(record, indent=2) + "\n")
    lines = [f"# Suite {manifest['preset']}: {len({r.policy for r in results})} policies", "", f"`{command}`", ""]
    lines += [markdown(results), "", f"Intervals: {provenance['interval']}. Versions: "]
    lines[-1] += ", ".join(f"{name} {found}" for name, found in versions.items())
    lines += ["", f"Suite seed {manifest['seed']}, manifest sha256 {digest[:16]}, sampling seed {seed}.", ""]
    (out / "report.md").write_text("\n".join(lines))
    return out / "report.md"
