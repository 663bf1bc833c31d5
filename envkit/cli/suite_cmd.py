"""``envkit suite generate | list | info``: benchmark suites with manifests."""

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

suite_app = typer.Typer(help="Benchmark suites: generate, list, inspect.", no_args_is_help=True)


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
