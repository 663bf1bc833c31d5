"""``envkit play``: a person plays one episode in the terminal.

The player sees exactly the context an agent would (the chosen builder applies) and
types either a full protocol turn (``<IS>..</IS><search>..</search>``) or a shortcut:
``search QUERY``, ``answer A1; A2; ...`` or ``quit``. Shortcuts are wrapped into a
protocol turn, so what the env receives is always what a model would send.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import gymnasium as gym
import typer
from rich.console import Console

from envkit.cli.terminal import play_in_terminal
from envkit.envs import QA_ENV_ID
from envkit.protocol.tags import QA_TAGS

__all__ = ["play", "to_turn"]


def to_turn(line: str, state: str) -> str:
    """A typed line as a protocol turn (full turns pass through unchanged)."""
    stripped = line.strip()
    command, _, rest = stripped.partition(" ")
    if command.lower() in ("search", "s"):
        return QA_TAGS.format_turn(state, "search", rest)
    if command.lower() in ("answer", "a"):
        return QA_TAGS.format_turn(state, "answer", rest)
    return line


def play(
    n_objectives: Annotated[int, typer.Option("--n-objectives", "-n", min=1, help="Objectives per task.")] = 2,
    source: Annotated[
        str, typer.Option("--source", "-s", help="QA source spec (see 'envkit compose --help').")
    ] = "synthetic",
    strategy: Annotated[str, typer.Option(help="parallel or chained.")] = "parallel",
    split: Annotated[str, typer.Option(help="train or test.")] = "test",
    seed: Annotated[int, typer.Option(help="Seed: picks the task.")] = 0,
    context: Annotated[str, typer.Option(help="consolidated, full or window(K).")] = "consolidated",
    task_file: Annotated[Path | None, typer.Option(help="Play a task from a composed task file instead.")] = None,
) -> None:
    """Play one episode yourself: search, keep notes, answer every question."""
    console = Console(highlight=False)
    kwargs = {"task_file": task_file} if task_file else {"n_objectives": n_objectives, "source": source}
    env = gym.make(QA_ENV_ID, strategy=strategy, split=split, seed=seed, context=context, **kwargs)
    observation, info = env.reset(seed=seed)
    console.print("Type 'search QUERY', 'answer A1; A2; ...', a full <IS>...</IS> turn, or 'quit'.\n")
    played = play_in_terminal(env, observation, info, lambda line: to_turn(line, "(played by a person)"), console)
    if played is None:
        return
    reward, info = played
    if info.get("action") == "answer":
        correct = info["objective_em"]
        task = env.unwrapped.task  # type: ignore[attr-defined]
        for index, (objective, given, ok) in enumerate(zip(task.objectives, info["answers"], correct, strict=True), 1):
            mark = "right" if ok else f"wrong (gold: {objective.golden_answers[0]})"
            console.print(f"{index}. {given or '(no answer)'}: {mark}", markup=False)
    else:
        console.print(f"out of turns after {info['turn']} turns")
    console.print(f"reward {reward:.2f}, peak context {info['peak_context_tokens']} tokens")
