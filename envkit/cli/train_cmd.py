"""``envkit train`` (GRPO) and ``envkit sft`` (oracle warm-up): the trainers from flags or a YAML config.

Every :class:`~envkit.train.config.Mem1GRPOConfig` (or
:class:`~envkit.train.sft.Mem1SFTConfig`) field is a flag (``--num_generations 8``) or
a YAML key; flags override the YAML file. ``--list-options`` prints them all with their
help. ``--model`` is a model spec (:mod:`envkit.policy.models`): ``smollm2`` (a real
pretrained model that installs offline), ``tiny`` (the random-init model of
:mod:`envkit.policy.tiny`, for CPU smoke runs), a model folder (an SFT output, say) or a hub
id in the local cache. ``--resume`` continues from the latest checkpoint in
``output_dir`` (or from the checkpoint folder given).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Any, NoReturn, cast

import typer

__all__ = ["TRAIN_CONTEXT", "parse_config", "sft", "train"]

TRAIN_CONTEXT = {"allow_extra_args": True, "ignore_unknown_options": True}


class _OneLineParser:
    """HfArgumentParser whose errors raise (one line, exit 2 in the CLI) instead of printing usage."""

    def __new__(cls, config_class: type) -> Any:
        from transformers import HfArgumentParser

        class Parser(HfArgumentParser):
            def error(self, message: str) -> NoReturn:
                raise ValueError(message)

        return Parser(cast(Any, config_class))  # a dataclass type; HfArgumentParser's stub wants its own alias


def _yaml_options(path: Path, fields: set[str], command: str) -> dict[str, Any]:
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
        raise ValueError(f"{path}: unknown option(s) {', '.join(unknown)} (see 'envkit {command} --list-options')")
    return loaded


_OUTPUT_DIRS = {"train": "mem1-grpo", "sft": "mem1-sft"}


def parse_config(
    arguments: list[str], config: Path | None, config_class: type | None = None, command: str = "train"
) -> Any:
    """A trainer config (default :class:`Mem1GRPOConfig`) from a YAML file and flags (flags win).

    ``command`` names the CLI command in error messages (and picks the default output folder).
    """
    if config_class is None:
        from envkit.train.config import Mem1GRPOConfig

        config_class = Mem1GRPOConfig
    parser = _OneLineParser(config_class)
    names = {f.name for f in dataclasses.fields(config_class) if f.init}
    if config is not None:
        if not config.is_file():
            raise FileNotFoundError(f"{config}: no such config file")
        parser.set_defaults(**_yaml_options(config, names, command))
    parser.set_defaults(output_dir=parser.get_default("output_dir") or _OUTPUT_DIRS[command])
    try:
        (args, rest) = parser.parse_args_into_dataclasses(arguments, return_remaining_strings=True)
    except TypeError as error:  # a YAML value of the wrong type
        raise ValueError(f"invalid option value ({error})") from None
    if rest:
        raise ValueError(f"unknown option(s): {' '.join(rest)} (see 'envkit {command} --list-options')")
    return args


def _model(spec: str) -> tuple[Any, Any]:
    """A model spec as the trainers take it: the tiny model in memory, else a folder path and its tokenizer."""
    if spec == "tiny":
        from envkit.policy.tiny import tiny_model, tiny_tokenizer

        tokenizer = tiny_tokenizer()
        return tiny_model(tokenizer), tokenizer
    from envkit.policy.models import load_model

    return load_model(spec, device="cpu")  # the trainer moves it to its device


def _checkpoint(resume: str | None) -> str | bool | None:
    if resume == "latest":
        return True
    if resume is not None and not Path(resume).is_dir():
        raise FileNotFoundError(f"{resume}: no such checkpoint folder")
    return resume


def _run(trainer_class: type, model: str, args: Any, resume: str | None) -> None:
    """Build the trainer (user errors as one line), train, and save the model with its tokenizer."""
    model_object, tokenizer = _model(model)
    checkpoint = _checkpoint(resume)
    try:
        trainer = trainer_class(model_object, args, processing_class=tokenizer)
    except RuntimeError as error:  # transformers: a logger named in report_to is not installed
        if "install" not in str(error):
            raise
        raise ValueError(str(error).splitlines()[0]) from None
    except ModuleNotFoundError:  # a package of an extra (peft for lora_r): the CLI names the extra
        raise
    except ImportError as error:  # an optional engine the options ask for (use_vllm without vllm)
        raise ValueError(str(error).splitlines()[0]) from None
    trainer.train(resume_from_checkpoint=checkpoint)
    trainer.save_model(args.output_dir)


MODEL_HELP = "Model: smollm2 (SmolLM2-135M-Instruct, offline), tiny (CPU smoke runs), a model folder or cached hub id."
RESUME_HELP = "Resume: 'latest' (newest checkpoint in output_dir) or a checkpoint folder."


def train(
    ctx: typer.Context,
    model: Annotated[str, typer.Option(help=MODEL_HELP)] = "tiny",
    config: Annotated[Path | None, typer.Option(help="YAML file of Mem1GRPOConfig options.")] = None,
    resume: Annotated[str | None, typer.Option(help=RESUME_HELP)] = None,
    list_options: Annotated[bool, typer.Option("--list-options", help="Print every config option and exit.")] = False,
) -> None:
    """Train an agent with GRPO on envkit episodes (masked trajectories); any Mem1GRPOConfig field is a flag."""
    if list_options:
        from envkit.train.config import Mem1GRPOConfig

        _OneLineParser(Mem1GRPOConfig).print_help()
        return
    args = parse_config(list(ctx.args), config)
    from envkit.train import Mem1GRPOTrainer

    _run(Mem1GRPOTrainer, model, args, resume)
    typer.echo(f"model saved to {args.output_dir}")


def sft(
    ctx: typer.Context,
    model: Annotated[str, typer.Option(help=MODEL_HELP)] = "tiny",
    config: Annotated[Path | None, typer.Option(help="YAML file of Mem1SFTConfig options.")] = None,
    resume: Annotated[str | None, typer.Option(help=RESUME_HELP)] = None,
    list_options: Annotated[bool, typer.Option("--list-options", help="Print every config option and exit.")] = False,
) -> None:
    """Supervised warm-up on oracle episodes (masked trajectories); any Mem1SFTConfig field is a flag.

    Continue with GRPO from the saved folder: envkit train --model OUTPUT_DIR.
    """
    from envkit.train.sft import Mem1SFTConfig, Mem1SFTTrainer

    if list_options:
        _OneLineParser(Mem1SFTConfig).print_help()
        return
    args = parse_config(list(ctx.args), config, Mem1SFTConfig, command="sft")
    _run(Mem1SFTTrainer, model, args, resume)
    typer.echo(f"model saved to {args.output_dir}; continue with: envkit train --model {args.output_dir}")
