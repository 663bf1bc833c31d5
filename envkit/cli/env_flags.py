"""The flags every command that builds an env shares: corpus, retriever, passages, turns, protocol.

A researcher bringing NQ or HotpotQA needs the same ones on ``eval``, ``play`` and
``suite generate`` (``train`` and ``sft`` take them as config options); one bringing a
MEM1 checkpoint needs ``--protocol mem1`` (or a state tag of their own). They are
declared once here, and :func:`env_options` passes on only those that were given, so
kinds that take no corpus (a shop, reasoning problems) are not handed one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from envkit.envs.protocols import DEFAULT_PROTOCOL, protocol_names
from envkit.retrieval.factory import retriever_specs

__all__ = [
    "ContextFlag",
    "CorpusFlag",
    "MaxTurnsFlag",
    "MetricFlag",
    "NObjectivesFlag",
    "ProtocolFlag",
    "RetrieverFlag",
    "SplitFlag",
    "StateTagFlag",
    "StrategyFlag",
    "TaskSourceFlag",
    "TopKFlag",
    "env_options",
    "tasks_env_options",
]

CorpusFlag = Annotated[
    Path | None,
    typer.Option(help="JSONL corpus the questions are answered from ({id, contents} or {id, title, text})."),
]
RetrieverFlag = Annotated[
    str | None, typer.Option(help=f"Retriever: {retriever_specs()} (default bm25 over the corpus).")
]
TopKFlag = Annotated[int | None, typer.Option("--top-k", min=1, help="Passages per search (default 3).")]
MaxTurnsFlag = Annotated[int | None, typer.Option(min=1, help="Turns per episode (default: each kind's budget).")]
ProtocolFlag = Annotated[
    str,
    typer.Option(
        help=f"Protocol preset: {', '.join(protocol_names())} (mem1: MEM1's released code, so its checkpoints play)."
    ),
]
MetricFlag = Annotated[
    str | None,
    typer.Option(help="Per-question score: em, f1, mem1 or mem1_f1 (MEM1's eval script's EM and F1); default em."),
]
StateTagFlag = Annotated[
    str | None, typer.Option(help="Internal-state tag agents write (default: the protocol's, IS or think).")
]


NObjectivesFlag = Annotated[int, typer.Option("--n-objectives", "-n", min=1, help="Objectives per task.")]
TaskSourceFlag = Annotated[
    str, typer.Option("--source", "-s", help="Source spec, any objective kind (see 'envkit compose --help').")
]
StrategyFlag = Annotated[str, typer.Option(help="parallel, chained or mixed.")]
SplitFlag = Annotated[str, typer.Option(help="train or test.")]
ContextFlag = Annotated[str, typer.Option(help="consolidated, full, window(K), summary(K) or fold.")]


def tasks_env_options(
    task_file: Path | None, n_objectives: int, source: str, strategy: str, split: str, context: str
) -> dict[str, Any]:
    """``gym.make("envkit/Tasks-v0")`` options for tasks from a task file, or composed from a source."""
    tasks: dict[str, Any] = {"task_file": task_file} if task_file else {"n_objectives": n_objectives, "source": source}
    return {"strategy": strategy, "split": split, "context": context, **tasks}


def env_options(
    corpus: Path | None = None,
    retriever: str | None = None,
    top_k: int | None = None,
    max_turns: int | None = None,
    protocol: str = DEFAULT_PROTOCOL,
    state_tag: str | None = None,
    metric: str | None = None,
) -> dict[str, Any]:
    """The env options among these that were given (the protocol always)."""
    given = {
        "corpus": corpus,
        "retriever": retriever,
        "top_k": top_k,
        "max_turns": max_turns,
        "state_tag": state_tag,
        "metric": metric,
    }
    return {"protocol": protocol} | {name: value for name, value in given.items() if value is not None}
