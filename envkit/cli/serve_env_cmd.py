"""``envkit serve-env``: any envkit env as an OpenEnv server on 127.0.0.1 (``envkit.adapters.openenv``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from envkit.cli import env_flags as flags
from envkit.envs.protocols import DEFAULT_PROTOCOL
from envkit.net import listen, serve_app

__all__ = ["serve_env"]


def serve_env(
    n_objectives: flags.NObjectivesFlag = 2,
    source: flags.TaskSourceFlag = "synthetic",
    strategy: flags.StrategyFlag = "parallel",
    split: flags.SplitFlag = "test",
    context: flags.ContextFlag = "consolidated",
    task_file: Annotated[Path | None, typer.Option(help="Serve the tasks of a composed task file instead.")] = None,
    host: Annotated[str, typer.Option(help="Address to bind (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    max_sessions: Annotated[int, typer.Option(min=1, help="Concurrent sessions, each with its own env.")] = 64,
    idle_timeout: Annotated[
        float, typer.Option(min=1.0, help="Seconds a session may stay idle before it is closed and its slot freed.")
    ] = 600.0,
    corpus: flags.CorpusFlag = None,
    retriever: flags.RetrieverFlag = None,
    top_k: flags.TopKFlag = None,
    max_turns: flags.MaxTurnsFlag = None,
    protocol: flags.ProtocolFlag = DEFAULT_PROTOCOL,
    state_tag: flags.StateTagFlag = None,
) -> None:
    """Serve envkit episodes to OpenEnv clients (reset / step / state; WebSocket sessions at /ws)."""
    import gymnasium as gym
    from rich.console import Console

    from envkit.adapters.openenv import openenv_app
    from envkit.envs import TASKS_ENV_ID

    options = flags.tasks_env_options(task_file, n_objectives, source, strategy, split, context)
    options.update(flags.env_options(corpus, retriever, top_k, max_turns, protocol, state_tag))
    gym.make(TASKS_ENV_ID, **options).close()  # a bad option fails here, in one line, before the server starts

    def make_env() -> gym.Env[str, str]:
        return gym.make(TASKS_ENV_ID, **options)

    app = openenv_app(make_env, max_sessions, idle_timeout)
    sock = listen(host, port)  # a busy port is one line, before anything claims to serve
    Console(stderr=True).print(
        f"serving OpenEnv sessions on http://{host}:{port} (WebSocket /ws, GET /health; Ctrl-C stops)", highlight=False
    )
    serve_app(app, sock)
