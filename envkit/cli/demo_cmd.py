"""``envkit demo``: the main job on the embedded default, no download, no server.

Composes N = 1, 2, 4, 8, 16 suites from the bundled synthetic world, runs the oracle
under the ``consolidated`` and ``full`` contexts, and prints success and peak context
tokens per N: the constant-memory effect MEM1 trains agents to exploit.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from envkit.eval.scaling import context_scaling

__all__ = ["demo"]


def _parse_ns(text: str) -> list[int]:
    try:
        ns = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise typer.BadParameter(f"expected comma-separated integers, got {text!r}") from None
    if not ns or any(n < 1 for n in ns):
        raise typer.BadParameter(f"every N must be a positive integer, got {text!r}")
    return ns


def demo(
    ns: Annotated[str, typer.Option("--ns", help="Comma-separated numbers of objectives.")] = "1,2,4,8,16",
    episodes: Annotated[int, typer.Option(min=1, help="Episodes per N and context.")] = 20,
    passages: Annotated[int, typer.Option(min=40, help="Passages in the bundled synthetic world.")] = 10_000,
    seed: Annotated[int, typer.Option(help="World and composition seed.")] = 0,
) -> None:
    """Run the oracle on N-objective tasks under consolidated and full contexts."""
    n_values = _parse_ns(ns)
    builders = ("consolidated", "full")
    console = Console()
    console.print(
        f"Bundled synthetic world: {passages} passages, seed {seed}; test split; "
        f"{episodes} episodes per N; embedded BM25 (bm25s)."
    )
    columns = (TextColumn("running the oracle"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        bar = progress.add_task("demo", total=len(n_values) * len(builders) * episodes)
        rows = context_scaling(
            n_values,
            builders,
            episodes,
            source=f"synthetic:passages={passages},seed={seed}",
            seed=seed,
            on_episode=lambda: progress.advance(bar),
        )
    table = Table(title="Oracle: success and peak context tokens against N")
    headers = ("N", "turns", "success\ncons.", "success\nfull", "peak tok.\ncons.", "peak tok.\nfull", "full /\ncons.")
    for header in headers:
        table.add_column(header, justify="right", no_wrap=True)
    by_key = {(r.n_objectives, r.builder): r for r in rows}
    for n in n_values:
        cons, full = by_key[(n, "consolidated")], by_key[(n, "full")]
        table.add_row(
            str(n),
            f"{cons.turns:.1f}",
            f"{cons.success:.2f}",
            f"{full.success:.2f}",
            f"{cons.peak_context_tokens:.0f}",
            f"{full.peak_context_tokens:.0f}",
            f"{full.peak_context_tokens / cons.peak_context_tokens:.2f}x",
        )
    console.print(table)
    console.print("Peak tokens: mean over episodes, default word-piece counter (see envkit.protocol.tokens).")
