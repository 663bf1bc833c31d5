"""The flags every command that builds an env shares: which corpus, which retriever, how many passages and turns.

A researcher bringing NQ or HotpotQA needs the same four on ``eval``, ``play`` and
``suite generate`` (``train`` and ``sft`` take them as config options): they are
declared once here, and :func:`env_options` passes on only those that were given, so
kinds that take no corpus (a shop, reasoning problems) are not handed one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from envkit.retrieval.factory import retriever_specs

__all__ = ["CorpusFlag", "MaxTurnsFlag", "RetrieverFlag", "TopKFlag", "env_options"]

CorpusFlag = Annotated[
    Path | None,
    typer.Option(help="JSONL corpus the questions are answered from ({id, contents} or {id, title, text})."),
]
RetrieverFlag = Annotated[
    str | None, typer.Option(help=f"Retriever: {retriever_specs()} (default bm25 over the corpus).")
]
TopKFlag = Annotated[int | None, typer.Option("--top-k", min=1, help="Passages per search (default 3).")]
MaxTurnsFlag = Annotated[int | None, typer.Option(min=1, help="Turns per episode (default: each kind's budget).")]


def env_options(
    corpus: Path | None = None, retriever: str | None = None, top_k: int | None = None, max_turns: int | None = None
) -> dict[str, Any]:
    """The env options among these that were given."""
    given = {"corpus": corpus, "retriever": retriever, "top_k": top_k, "max_turns": max_turns}
    return {name: value for name, value in given.items() if value is not None}
