"""The README's "Train on a laptop" commands configure what the learning benchmark ran.

Its figures are quoted beside those commands, so a flag that drifts (a scheduler, a
learning rate, a temperature) would make the README claim results its commands do not
produce. Each ``envkit sft`` / ``envkit train`` line is parsed by the CLI's own parser and
compared, field by field, with the config the benchmark's stage builds.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("trl")

from benchmarks.learning import FULL, grpo_config, sft_config
from composers.sources.registry import load_source
from envkit.cli.train_cmd import parse_config
from envkit.train.sft import Mem1SFTConfig

README = Path(__file__).resolve().parents[2] / "README.md"
RUN_ONLY = {"output_dir", "logging_dir", "report_to", "save_strategy", "seed", "run_name"}  # where and how it saves


def readme_commands() -> dict[str, list[str]]:
    """``{"sft": args, "train": args}``: the flags of the section's two training commands."""
    section = README.read_text().split("## Train on a laptop", 1)[1]
    block = section.split("```bash", 1)[1].split("```", 1)[0]
    commands = {}
    for line in re.sub(r"\\\n\s*", " ", block).splitlines():
        words = shlex.split(line, comments=True)
        if words[:2] in (["envkit", "sft"], ["envkit", "train"]):
            commands[words[1]] = words[2:]
    return commands


def without_model(words: list[str]) -> tuple[str, list[str]]:
    at = words.index("--model")
    return words[at + 1], words[:at] + words[at + 2 :]


def differences(readme: Any, benchmark: Any) -> dict[str, tuple[Any, Any]]:
    """Fields (other than where the run saves) on which the two configs disagree."""
    found = {}
    for field in dataclasses.fields(benchmark):
        if field.init and field.name not in RUN_ONLY:
            mine, theirs = getattr(readme, field.name), getattr(benchmark, field.name)
            if field.name == "source":  # two spellings of one source build the same world
                mine, theirs = load_source(mine).name, load_source(theirs).name
            if mine != theirs and str(mine) != str(theirs):  # 1 and 1.0; an enum and its value
                found[field.name] = (mine, theirs)
    return found


def test_the_readme_sft_command_is_the_benchmarks_sft_stage(tmp_path: Path) -> None:
    model, words = without_model(readme_commands()["sft"])
    readme = parse_config(words, None, Mem1SFTConfig, "sft")
    assert model == "smollm2"
    found = differences(readme, sft_config(tmp_path, "consolidated", FULL, seed=0))
    assert found == {}, found


def test_the_readme_train_command_is_the_benchmarks_grpo_stage(tmp_path: Path) -> None:
    model, words = without_model(readme_commands()["train"])
    readme = parse_config(words, None, None, "train")
    assert model == "runs/sft"  # where the SFT command above saves
    benchmark = grpo_config(tmp_path, "consolidated", FULL, seed=0, lr=FULL.grpo_lr)
    found = differences(readme, benchmark)
    assert found == {}, found
