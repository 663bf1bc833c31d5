"""``envkit index build`` and ``envkit retriever serve``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from envkit.net import listen
from envkit.retrieval.corpus import Corpus
from envkit.retrieval.dense import INDEX_KINDS
from envkit.retrieval.store import INDEX_BACKENDS, build_index, load_index, verify_index

__all__ = ["index_app", "retriever_app"]

index_app = typer.Typer(help="Build retrieval indexes.", no_args_is_help=True)
retriever_app = typer.Typer(help="Serve retrievers.", no_args_is_help=True)

CORPUS_HELP = (
    "Corpus: a JSONL/JSON/Parquet file of {id, contents} or {id, title, text}, or synthetic[:passages=N,seed=S]."
)


@index_app.command("verify")
def verify(folder: Annotated[Path, typer.Argument(help="An index folder from 'envkit index build'.")]) -> None:
    """Check every file of an index against the checksums in its manifest (exit 1 if any differs)."""
    problems = verify_index(folder)
    for problem in problems:
        typer.echo(f"error: {problem}", err=True)
    if problems:
        raise typer.Exit(1)
    typer.echo(f"{folder}: every file matches its manifest")


@index_app.command("build")
def build(
    corpus: Annotated[str, typer.Option(help=CORPUS_HELP)],
    output: Annotated[Path, typer.Option("--output", "-o", help="New index folder (must not exist).")],
    backend: Annotated[str, typer.Option(help=f"Back-end: {', '.join(INDEX_BACKENDS)}.")] = "bm25",
    dense_kind: Annotated[str, typer.Option(help=f"faiss index kind for 'dense': {', '.join(INDEX_KINDS)}.")] = "flat",
    model: Annotated[
        str | None, typer.Option(help="Encoder for 'dense' (local folder or Hub name); default: bundled MiniLM.")
    ] = None,
    query_prefix: Annotated[str, typer.Option(help="Prefix for queries (e5: 'query: ').")] = "",
    passage_prefix: Annotated[str, typer.Option(help="Prefix for passages (e5: 'passage: ').")] = "",
    threads: Annotated[int, typer.Option(min=1, help="Indexing threads for 'lucene'.")] = 2,
) -> None:
    """Build an index folder that 'envkit retriever serve --index' and retriever='index:PATH' open."""
    if backend not in INDEX_BACKENDS:
        raise typer.BadParameter(f"unknown back-end {backend!r} (use {', '.join(INDEX_BACKENDS)})")
    if dense_kind not in INDEX_KINDS:
        raise typer.BadParameter(f"unknown faiss index kind {dense_kind!r} (use {', '.join(INDEX_KINDS)})")
    if output.exists():
        raise typer.BadParameter(f"{output} already exists: choose a new folder", param_hint="--output")
    console = Console(stderr=True)
    passages = Corpus.from_spec(corpus)
    columns = (SpinnerColumn(), TextColumn(f"{backend} index"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        bar = progress.add_task("build", total=len(passages) if backend == "dense" else None)
        build_index(
            backend,
            passages,
            output,
            dense_model=model,
            dense_kind=dense_kind,
            query_prefix=query_prefix,
            passage_prefix=passage_prefix,
            threads=threads,
            progress=lambda n: progress.advance(bar, n),
        )
    console.print(f"built a {backend} index of {len(passages)} passages in {output}")


@retriever_app.command("serve")
def serve(
    index: Annotated[Path | None, typer.Option(help="Index folder from 'envkit index build'.")] = None,
    corpus: Annotated[str | None, typer.Option(help=f"Index this corpus with BM25 instead. {CORPUS_HELP}")] = None,
    host: Annotated[str, typer.Option(help="Address to bind; loopback by default.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    max_queries: Annotated[int, typer.Option(min=1, help="Most queries per request.")] = 512,
    max_topk: Annotated[int, typer.Option(min=1, help="Largest top-k per request.")] = 100,
    max_query_chars: Annotated[int, typer.Option(min=1, help="Longest query in characters.")] = 2048,
    jit: Annotated[
        bool, typer.Option(help="bm25: score batches with numba (about 3x faster; compiles for ~15 s at start).")
    ] = True,
) -> None:
    """Serve a retriever over HTTP (POST /retrieve, Search-R1 compatible; GET /health)."""
    from envkit.retrieval.bm25 import BM25Retriever
    from envkit.retrieval.server import ServerLimits
    from envkit.retrieval.server import serve as run_server

    if (index is None) == (corpus is None):
        raise typer.BadParameter("give exactly one of --index and --corpus")
    console = Console(stderr=True)
    with console.status("loading the index"):
        # with jit, both compile the numba scorer before returning, so the first request does not stall
        if index is not None:
            retriever = load_index(index, jit=jit)
        else:
            assert corpus is not None  # exactly one of the two, checked above
            retriever = BM25Retriever(Corpus.from_spec(corpus), jit=jit)
    limits = ServerLimits(max_queries=max_queries, max_topk=max_topk, max_query_chars=max_query_chars)
    sock = listen(host, port)  # a busy port is one line, before anything claims to serve
    console.print(f"serving {retriever!r} on http://{host}:{port} (POST /retrieve, GET /health)")
    run_server(retriever, host=host, port=port, sock=sock, limits=limits)
