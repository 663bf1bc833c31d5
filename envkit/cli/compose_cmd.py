"""``envkit compose``: write a composed task file."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from composers.compose import STRATEGY_TABLE
from composers.compose import compose as compose_tasks
from composers.sources.registry import source_specs
from composers.taskfiles import FORMATS, task_format, write_tasks

__all__ = ["compose"]


def compose(
    output: Annotated[Path, typer.Option("--output", "-o", help="Task file to write (.jsonl or .parquet).")],
    source: Annotated[
        list[str], typer.Option("--source", "-s", help=f"QA source, repeat for 'mixed'. Specs: {source_specs()}.")
    ] = ["synthetic"],  # noqa: B006 - typer reads the default
    strategy: Annotated[str, typer.Option(help=f"Composition strategy: {STRATEGY_TABLE.usage()}.")] = "parallel",
    n_objectives: Annotated[int, typer.Option("--n-objectives", "-n", min=1, help="Objectives per task (N).")] = 2,
    count: Annotated[int, typer.Option(min=1, help="Number of tasks to write.")] = 1000,
    split: Annotated[str, typer.Option(help="Split to draw questions from: train or test.")] = "train",
    seed: Annotated[int, typer.Option(help="Composition seed (same seed, same file).")] = 0,
    weight: Annotated[
        list[float] | None, typer.Option(help="Per-source weight for 'mixed', in --source order.")
    ] = None,
    per_source: Annotated[
        list[int] | None,
        typer.Option("--count-per-source", help="'mixed': exactly this many objectives per source, in --source order."),
    ] = None,
    shuffle: Annotated[
        bool, typer.Option(help="Shuffle the pool per pass ('parallel'); --no-shuffle groups in source order as MEM1.")
    ] = True,
    fmt: Annotated[
        str | None, typer.Option("--format", help=f"File format ({', '.join(FORMATS)}); default from the suffix.")
    ] = None,
    corpus: Annotated[
        Path | None,
        typer.Option(help="JSONL corpus the questions are answered from, named in every task so the file replays."),
    ] = None,
    updates: Annotated[
        int, typer.Option(min=0, help="Knowledge updates per task: answer entities renamed mid-episode.")
    ] = 0,
) -> None:
    """Compose N-objective tasks from QA sources and write them to a task file."""
    fmt = task_format(output, fmt)
    if corpus is not None and not corpus.is_file():
        raise typer.BadParameter(f"{corpus}: no such file", param_hint="--corpus")
    from envkit.kinds.registry import updatable

    composed = compose_tasks(
        source, strategy, n_objectives, count, split, seed, weight or None, shuffle, per_source or None
    ).with_updates(updates, updatable)
    named = None if corpus is None else str(corpus.resolve())
    tasks = composed if named is None else (replace(task, corpus=named) for task in composed)
    console = Console(stderr=True)
    columns = (TextColumn("composing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        bar = progress.add_task("compose", total=count)

        def tracked():
            for index, task in enumerate(tasks, start=1):
                yield task
                if index % 256 == 0 or index == count:
                    progress.update(bar, completed=index)

        written = write_tasks(tracked(), output, fmt)
    console.print(f"wrote {written} tasks ({strategy}, N={n_objectives}, {split}, seed {seed}) to {output}")
