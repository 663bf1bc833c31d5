"""``envkit eval``: a policy against N-objective tasks under several context builders, as a report.

Tasks come from a suite folder (its test task files; ``envkit suite generate``) or are
composed on the fly from ``--source`` for each ``--ns`` value. Writes ``report.md``
(the table), ``results.json``, ``accuracy.png``, ``peak_tokens.png``, ``run.json`` (the
settings a ``--resume`` must match) and, unless told not to, ``trajectories.jsonl`` into
``--output``.
"""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path
from typing import Annotated

import gymnasium as gym
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from composers.sources.registry import load_source
from composers.suites import verify_suite
from envkit.cli.demo_cmd import _parse_ns
from envkit.cli.env_flags import (
    CorpusFlag,
    MaxTurnsFlag,
    MetricFlag,
    ProtocolFlag,
    RetrieverFlag,
    StateTagFlag,
    TopKFlag,
    env_options,
)
from envkit.envs import TASKS_ENV_ID
from envkit.envs.protocols import DEFAULT_PROTOCOL, resolve_protocol
from envkit.eval.harness import EvalCase, evaluate, suite_cases
from envkit.eval.report import markdown_table, write_report
from envkit.eval.run_record import check_resume, record_run
from envkit.policy.settings import GenerationSettings
from envkit.policy.specs import POLICY_SPECS, load_policy
from envkit.protocol.context import make_context_builder

__all__ = ["eval_command"]


def _builders(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise typer.BadParameter("name at least one context builder", param_hint="--builders")
    try:
        return [make_context_builder(name).name for name in names]
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--builders") from None


def _split_played(source: str, console: Console) -> str:
    """The split eval plays, said out loud when a bare ``file:PATH`` leaves it to a hash.

    A file named without a split serves both: a hash of each question holds a tenth out
    for test (so training on the same spec never sees them). Evaluating such a file plays
    only that tenth, which a small file may leave empty: say so, and how to name the split.
    """
    if not source.startswith("file:") or "=" in source:
        return "test"
    loaded = load_source(source)
    fraction = getattr(loaded, "holdout_fraction", None)
    if fraction is None:
        return "test"
    held_out = len(loaded.questions("test"))
    total = held_out + len(loaded.questions("train"))
    whole = f"--source file:test={source[len('file:') :]} plays the whole file"
    if held_out == 0:
        raise typer.BadParameter(
            f"{source} names no split, so eval plays the {fraction:.0%} of its questions a hash holds out "
            f"for test, and that is none of its {total}; {whole}",
            param_hint="--source",
        )
    console.print(
        f"note: {source} names no split: playing the {held_out} of its {total} questions a hash holds out "
        f"for test ({whole})",
        highlight=False,
        soft_wrap=True,
    )
    return f"test (the {held_out} of {total} questions a hash holds out)"


def eval_command(
    policy: Annotated[str, typer.Option(help=f"Policy: {POLICY_SPECS}.")] = "oracle",
    suite: Annotated[Path | None, typer.Option(help="A suite folder (its test task files are played).")] = None,
    source: Annotated[
        str,
        typer.Option(
            "--source",
            "-s",
            help="Source (any kind) to compose from without --suite; its test split is played "
            "(file:test=PATH plays a whole file).",
        ),
    ] = "synthetic:passages=10000,seed=0",
    ns: Annotated[
        str | None, typer.Option("--ns", help="Numbers of objectives (default 1,2,4,8,16; not with --suite).")
    ] = None,
    builders: Annotated[str, typer.Option(help="consolidated, full, window(K), summary(K), fold.")] = (
        "consolidated,full"
    ),
    episodes: Annotated[int, typer.Option(min=1, help="Episodes per N and builder.")] = 20,
    batch_size: Annotated[int, typer.Option(min=1, help="Episodes played at once (batched generation).")] = 1,
    output: Annotated[Path, typer.Option("--output", "-o", help="Report folder.")] = Path("eval-report"),
    max_new_tokens: Annotated[int, typer.Option(min=1, help="Longest turn a model may write.")] = 256,
    temperature: Annotated[float, typer.Option(min=0.0, help="Sampling temperature (0: greedy).")] = 0.0,
    max_context_tokens: Annotated[int, typer.Option(min=1, help="Context budget of a model policy.")] = 8192,
    device: Annotated[str, typer.Option(help="auto (CUDA when present), cpu, cuda:0...")] = "auto",
    seed: Annotated[int, typer.Option(help="Composition and sampling seed.")] = 0,
    trajectories: Annotated[bool, typer.Option(help="Write trajectories.jsonl.")] = True,
    corpus: CorpusFlag = None,
    retriever: RetrieverFlag = None,
    top_k: TopKFlag = None,
    max_turns: MaxTurnsFlag = None,
    protocol: ProtocolFlag = DEFAULT_PROTOCOL,
    state_tag: StateTagFlag = None,
    metric: MetricFlag = None,
    verify: Annotated[bool, typer.Option(help="Check a suite's files against its manifest before playing.")] = True,
    resume: Annotated[
        bool, typer.Option(help="Keep the report's trajectories and play only the episodes they lack.")
    ] = False,
) -> None:
    """Evaluate a policy per N and context builder: EM, F1, success, context tokens, dependency, time."""
    chosen = _builders(builders)
    console = Console(stderr=True)
    options = env_options(corpus, retriever, top_k, max_turns, protocol, state_tag, metric)
    state = state_tag or resolve_protocol(protocol).state_tag
    if suite is not None:
        if ns is not None:
            raise typer.BadParameter("a suite's task files set N: drop --ns, or use --source", param_hint="--ns")
        problems = verify_suite(suite) if verify else []
        if problems:  # not the suite its manifest describes: figures from it would mislead
            for problem in problems:
                typer.echo(f"error: {suite}/{problem} (--no-verify plays it anyway)", err=True)
            raise typer.Exit(1)
        cases = suite_cases(suite, chosen, **options)
        where = f"suite {suite}"
    else:
        make = partial(gym.make, TASKS_ENV_ID, source=source, split="test", seed=seed, **options)
        cases = [EvalCase(n, b, partial(make, n_objectives=n)) for n in _parse_ns(ns or "1,2,4,8,16") for b in chosen]
        where = f"source {source}, split {_split_played(source, console)}"
    generation = GenerationSettings(max_new_tokens=max_new_tokens, temperature=temperature)
    agent = load_policy(policy, generation, max_context_tokens, device, seed, state_tag=state)
    path = output / "trajectories.jsonl"
    run = {
        "policy": policy,
        "tasks": str(suite) if suite is not None else source,
        "seed": seed,
        "temperature": temperature,
        "max_new_tokens": max_new_tokens,
        "max_context_tokens": max_context_tokens,
        **{key: str(value) for key, value in options.items()},
    }
    if resume:
        check_resume(output, path, run)
    output.mkdir(parents=True, exist_ok=True)
    if trajectories and path.exists() and not resume:
        path.unlink()  # a new report replaces the old trajectories
    record_run(output, run)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    started = time.perf_counter()
    with Progress(*columns, console=console, transient=True) as progress:
        bar = progress.add_task(f"eval {policy}", total=len(cases) * episodes)

        def advance(case: EvalCase, _: object) -> None:
            progress.update(bar, advance=1, description=f"eval {policy}: N={case.n_objectives} {case.builder}")

        kept = path if trajectories else None
        played_with: dict[str, object] = {}
        rows = evaluate(
            cases, agent, episodes, batch_size, kept, on_episode=advance, resume=resume, played_with=played_with
        )
    details = {
        "policy": policy,
        "tasks": where,
        "corpus": str(corpus) if corpus else "the source's own passages",
        **played_with,
        "protocol": protocol,
        "episodes per cell": episodes,
        "batch size": batch_size,
        "seed": seed,
    }
    report = write_report(rows, output, f"envkit eval: {policy}", details)
    typer.echo(markdown_table(rows))
    console.print(f"report written to {report} ({time.perf_counter() - started:.1f} s)")
