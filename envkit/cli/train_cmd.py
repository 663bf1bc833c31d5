"""``envkit train``: the MEM1 trainer from flags or a YAML config.

Every :class:`~envkit.train.config.Mem1GRPOConfig` field is a flag (``--num_generations
8``) or a YAML key; flags override the YAML file. ``--list-options`` prints them all with
their help. ``--model`` is a model folder, a hub id in the local cache, or ``tiny`` (the
random-init model of :mod:`envkit.testing`, for CPU smoke runs). ``--resume`` continues
from the latest checkpoint in ``output_dir`` (or from the checkpoint folder given).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

__all__ = ["TRAIN_CONTEXT", "train"]

TRAIN_CONTEXT = {"allow_extra_args": True, "ignore_unknown_options": True}


class _OneLineParser:
    """HfArgumentParser whose errors raise (one line, exit 2 in the CLI) instead of printing usage."""

    def __new__(cls, config_class: type) -> Any:
        from transformers import HfArgumentParser

        class Parser(HfArgumentParser):
            def error(self, message: str) -> NoReturn:
                raise ValueError(message)

        return Parser(config_class)


def _yaml_options(path: Path, fields: set[str]) -> dict[str, Any]:
    import yaml

    try:
        loaded = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ValueError(f"{path}: invalid YAML ({str(error).splitlines()[0]})") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ValueError(f"{path}: a training config is a mapping of option names to values")
    unknown = sorted(set(loaded) - fields)
    if unknown:
        raise ValueError(f"{path}: unknown option(s) {', '.join(unknown)} (see 'envkit train --list-options')")
    return loaded


def parse_config(arguments: list[str], config: Path | None) -> Any:
    """A :class:`Mem1GRPOConfig` from a YAML file and flags (flags win)."""
    from envkit.train.config import Mem1GRPOConfig

    parser = _OneLineParser(Mem1GRPOConfig)
    names = {f.name for f in dataclasses.fields(Mem1GRPOConfig) if f.init}
    if config is not None:
        if not config.is_file():
            raise FileNotFoundError(f"{config}: no such config file")
        parser.set_defaults(**_yaml_options(config, names))
    parser.set_defaults(output_dir=parser.get_default("output_dir") or "mem1-grpo")
    try:
        (args, rest) = parser.parse_args_into_dataclasses(arguments, return_remaining_strings=True)
    except TypeError as error:  # a YAML value of the wrong type
        raise ValueError(f"invalid option value ({error})") from None
    if rest:
        raise ValueError(f"unknown option(s): {' '.join(rest)} (see 'envkit train --list-options')")
    return args


def train(
    ctx: typer.Context,
    model: Annotated[str, typer.Option(help="Model folder, cached hub id, or 'tiny' (CPU smoke runs).")] = "tiny",
    config: Annotated[Path | None, typer.Option(help="YAML file of Mem1GRPOConfig options.")] = None,
    resume: Annotated[
        str | None, typer.Option(help="Resume: 'latest' (newest checkpoint in output_dir) or a checkpoint folder.")
    ] = None,
    list_options: Annotated[bool, typer.Option("--list-options", help="Print every config option and exit.")] = False,
) -> None:
    """Train an agent with GRPO on envkit episodes (masked trajectories); any Mem1GRPOConfig field is a flag."""
    if list_options:
        from envkit.train.config import Mem1GRPOConfig

        _OneLineParser(Mem1GRPOConfig).print_help()
        return
    args = parse_config(list(ctx.args), config)
    from envkit.train import Mem1GRPOTrainer

    tokenizer = None
    if model == "tiny":
        from envkit.testing import tiny_model, tiny_tokenizer

        tokenizer = tiny_tokenizer()
        model_object: Any = tiny_model(tokenizer)
    else:
        model_object = model
    checkpoint: str | bool | None = None
    if resume == "latest":
        checkpoint = True
    elif resume is not None:
        if not Path(resume).is_dir():
            raise FileNotFoundError(f"{resume}: no such checkpoint folder")
        checkpoint = resume
    try:
        trainer = Mem1GRPOTrainer(model_object, args, processing_class=tokenizer)
    except RuntimeError as error:  # transformers: a logger named in report_to is not installed
        if "install" not in str(error):
            raise
        raise ValueError(str(error).splitlines()[0]) from None
    except ImportError as error:  # an optional engine the options ask for (use_vllm without vllm)
        raise ValueError(str(error).splitlines()[0]) from None
    trainer.train(resume_from_checkpoint=checkpoint)
    trainer.save_model(args.output_dir)
    typer.echo(f"model saved to {args.output_dir}")
