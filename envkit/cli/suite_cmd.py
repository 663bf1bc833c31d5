"""``envkit suite generate | list | info | report``: benchmark suites with manifests, and their results tables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from composers.suites import PRESETS, generate_suite, read_manifest, verify_suite
from envkit.cli.env_flags import CorpusFlag

__all__ = ["suite_app"]

suite_app = typer.Typer(help="Benchmark suites: generate, list, inspect, report.", no_args_is_help=True)


@suite_app.command("generate")
def generate(
    preset: Annotated[str, typer.Option(help=f"Suite preset: {', '.join(PRESETS)}.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="New suite folder (must not exist).")],
    seed: Annotated[int, typer.Option(help="Composition seed (same seed, same bytes).")] = 0,
    scale: Annotated[
        float, typer.Option(min=0.0001, help="Multiply every file's task count (0.1: a quick look).")
    ] = 1.0,
    source: Annotated[
        list[str] | None,
        typer.Option("--source", "-s", help="Replace the preset's sources, one for one (e.g. file:train=A,test=B)."),
    ] = None,
    corpus: CorpusFlag = None,
) -> None:
    """Compose a preset's task files and its manifest into a new folder."""
    if preset not in PRESETS:
        raise typer.BadParameter(f"unknown preset {preset!r} (use {', '.join(PRESETS)})", param_hint="--preset")
    console = Console(stderr=True)
    columns = (TextColumn(f"suite {preset}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        bar = progress.add_task("suite", total=len(PRESETS[preset].parts))
        sources = tuple(source) if source else None
        manifest = generate_suite(
            preset, output, seed, scale, lambda _: progress.advance(bar), sources=sources, corpus=corpus
        )
    total = sum(f["count"] for f in manifest["files"])
    console.print(f"wrote suite {preset}: {len(manifest['files'])} files, {total} tasks, to {output}")


@suite_app.command("list")
def list_presets() -> None:
    """The suite presets and what each holds."""
    table = Table(title="Suite presets")
    for column in ("preset", "tasks", "description"):
        table.add_column(column)
    for preset in PRESETS.values():
        tasks = str(sum(p.count for p in preset.parts))
        table.add_row(preset.name, tasks, f"{preset.description} Sources: {', '.join(preset.sources)}.")
    Console().print(table)


@suite_app.command("info")
def info(folder: Annotated[Path, typer.Argument(help="A suite folder.")]) -> None:
    """Show a suite's manifest and check its files against it (exit 1 if they differ)."""
    manifest = read_manifest(folder)
    console = Console()
    console.print(
        f"suite {manifest['preset']} v{manifest['version']}, seed {manifest['seed']}, scale {manifest['scale']}; "
        + "; ".join(f"source {src['spec']} (sha256 {src['sha256'][:12]})" for src in manifest["sources"])
    )
    table = Table()
    for column in ("file", "split", "strategy", "N", "tasks", "sha256"):
        table.add_column(column)
    for entry in manifest["files"]:
        table.add_row(
            entry["path"], entry["split"], entry["strategy"], str(entry["n_objectives"]), str(entry["count"]),
            entry["sha256"][:12],
        )  # fmt: skip
    console.print(table)
    problems = verify_suite(folder)
    for problem in problems:
        console.print(f"[red]{problem}[/red]")
    if problems:
        raise typer.Exit(1)
    console.print("every file matches the manifest")


@suite_app.command("report")
def report(
    folder: Annotated[Path, typer.Argument(help="A suite folder.")],
    policy: Annotated[list[str], typer.Option("--policy", "-p", help="A policy to compare; repeat for several.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Report folder.")] = Path("suite-report"),
    builders: Annotated[str, typer.Option(help="Context builders, comma-separated.")] = "consolidated",
    episodes: Annotated[int, typer.Option(min=1, help="Episodes per policy, task file and builder.")] = 20,
    max_new_tokens: Annotated[int, typer.Option(min=1, help="Longest turn a model may write.")] = 256,
    temperature: Annotated[float, typer.Option(min=0.0, help="Sampling temperature (0: greedy).")] = 0.0,
    device: Annotated[str, typer.Option(help="auto (CUDA when present), cpu, cuda:0...")] = "auto",
    seed: Annotated[int, typer.Option(help="Sampling and bootstrap seed.")] = 0,
) -> None:
    """Play a suite's test files with several policies: one table with 95% intervals, seeds and versions."""
    import sys

    from envkit.eval.harness import EvalCase
    from envkit.eval.suite_report import markdown, suite_report, write_suite_report
    from envkit.policy.settings import GenerationSettings
    from envkit.policy.specs import load_policy
    from envkit.protocol.context import make_context_builder

    problems = verify_suite(folder)
    if problems:  # not the suite its manifest describes: a table from it would mislead
        raise ValueError(f"{folder}: {problems[0]}")
    chosen = [make_context_builder(b.strip()).name for b in builders.split(",") if b.strip()]
    generation = GenerationSettings(max_new_tokens=max_new_tokens, temperature=temperature)
    policies = [(spec, load_policy(spec, generation, device=device, seed=seed)) for spec in policy]
    manifest = read_manifest(folder)
    total = len(policies) * len(chosen) * episodes * sum(e["split"] == "test" for e in manifest["files"])
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        bar = progress.add_task("suite report", total=total)

        def advance(name: str, case: EvalCase, _: object) -> None:
            progress.update(bar, advance=1, description=f"{name}: N={case.n_objectives} {case.builder}")

        results = suite_report(folder, policies, chosen, episodes, seed, advance)
    command = "envkit " + " ".join(sys.argv[1:])
    written = write_suite_report(results, folder, output, command, seed)
    typer.echo(markdown(results))
    typer.echo(f"report written to {written}")
