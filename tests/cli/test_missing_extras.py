"""Every command on a machine without the optional packages: it works, or says in one line which extra to install.

Each run is a real subprocess of the CLI in which the packages are hidden from every
import finder (``tests/cli/without_extras.py``), as on a fresh ``pip install
mem1-envkit``; CI also runs the README's first command in a new virtual environment.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from envkit.cli.app import COMMANDS, EXTRAS
from tests.conftest import HANG_GUARD_S

HIDER = Path(__file__).with_name("without_extras.py")
WORLD = "synthetic:passages=200,seed=0"
# what the base install brings anyway (PyYAML comes with datasets); every other optional package is hidden
IN_THE_BASE = {"yaml"}
OPTIONAL = sorted(set(EXTRAS) - IN_THE_BASE)
ONE_LINE = re.compile(r"^error: this command needs \S+ \(pip install 'mem1-envkit\[([a-z0-9,]+)\]'\)$")


def run_without(hidden, args, cwd, stdin="", env_extra=None):
    env = {**os.environ, "ENVKIT_CACHE": str(cwd / "cache"), **(env_extra or {})}
    return subprocess.run(
        [sys.executable, str(HIDER), ",".join(hidden), "--", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=HANG_GUARD_S,
    )


def assert_names_an_extra(result, *extras):
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr + result.stdout
    assert "Traceback" not in result.stderr + result.stdout
    assert len(lines) == 1, result.stderr
    named = ONE_LINE.match(lines[0]) or re.search(r"mem1-envkit\[([a-z0-9,]+)\]", lines[0])
    assert named, lines[0]
    assert named.group(1) in extras, lines[0]


# what the base install does (README, "Extras"): each must work with every optional package hidden
BASE_COMMANDS = [
    ["--version"],
    ["--help"],
    ["demo", "--ns", "1,2", "--episodes", "1", "--passages", "200"],
    ["compose", "-s", WORLD, "-n", "2", "--count", "3", "-o", "tasks.jsonl"],
    ["compose", "-s", "shop:products=60", "-n", "1", "--count", "2", "-o", "goals.jsonl"],
    ["suite", "list"],
    ["suite", "generate", "--preset", "mem1-qa", "--scale", "0.0005", "-o", "suite"],
    ["eval", "--policy", "oracle", "-s", WORLD, "--ns", "1,2", "--episodes", "1", "-o", "report"],
    ["eval", "--policy", "random", "-s", WORLD, "--ns", "1", "--episodes", "1", "-o", "report2"],
    ["play", "-n", "1", "--policy", "oracle", "-s", WORLD],
    ["play", "-n", "1", "--policy", "oracle", "-s", "shop:products=60"],
    ["index", "build", "--corpus", WORLD, "-o", "index"],
]


@pytest.mark.slow
def test_the_base_install_runs_every_base_command(tmp_path):
    for args in BASE_COMMANDS:
        result = run_without(OPTIONAL, args, tmp_path)
        assert result.returncode == 0, f"envkit {' '.join(args)}: {result.stderr}"
        assert "Traceback" not in result.stderr
    verified = run_without(OPTIONAL, ["index", "verify", "index"], tmp_path)
    assert verified.returncode == 0, verified.stderr
    info = run_without(OPTIONAL, ["suite", "info", "suite"], tmp_path)
    assert info.returncode == 0, info.stderr


@pytest.mark.slow
@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_commands_help_works_without_extras(name, tmp_path):
    spec = COMMANDS[name]
    result = run_without(OPTIONAL, [name, "--help"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert spec.help.split(" (")[0][:40] in " ".join(result.stdout.split())


# commands that need an extra, each with every optional package hidden: one line naming what to install
NEEDS_AN_EXTRA = [
    (["train", "--model", "tiny", "--max_steps", "1", "--output_dir", "t"], ("train",)),
    (["train", "--list-options"], ("train",)),
    (["sft", "--model", "tiny", "--max_steps", "1", "--output_dir", "s"], ("train",)),
    (["eval", "--policy", "tiny", "--ns", "1", "--episodes", "1", "-o", "r"], ("policy",)),
    (["eval", "--policy", "smollm2", "--ns", "1", "--episodes", "1", "-o", "r"], ("policy", "smollm2")),
    (["eval", "--policy", "vllm:m", "--ns", "1", "--episodes", "1", "-o", "r"], ("policy", "vllm")),
    (["eval", "--policy", "server:http://127.0.0.1:9", "--ns", "1", "--episodes", "1", "-o", "r"], ("policy",)),
    (["eval", "-s", "reasoning_gym:chain_sum", "--ns", "1", "--episodes", "1", "-o", "r"], ("reasoning",)),
    (["serve-env", "--port", "9"], ("openenv",)),
    (["serve-policy", "tiny", "--port", "9"], ("server,policy",)),
    (["retriever", "serve", "--corpus", WORLD, "--port", "9"], ("server",)),
    (["shop", "serve", "--port", "9"], ("shop",)),
    (["index", "build", "--corpus", WORLD, "-o", "dense", "--backend", "dense"], ("dense",)),
]


@pytest.mark.parametrize(("args", "extras"), NEEDS_AN_EXTRA, ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_a_command_needing_an_extra_says_which_in_one_line(args, extras, tmp_path):
    assert_names_an_extra(run_without(OPTIONAL, args, tmp_path), *extras)


# one extra missing at a time, the rest installed (CI installs them all): the line names that extra
ONE_EXTRA_MISSING = [
    (
        ["torch", "transformers", "tokenizers"],
        ["eval", "--policy", "tiny", "--ns", "1", "--episodes", "1", "-o", "r"],
        "policy",
    ),
    (["trl"], ["train", "--model", "tiny", "--max_steps", "1", "--output_dir", "t"], "train"),
    (["peft"], ["train", "--model", "tiny", "--max_steps", "1", "--output_dir", "t", "--lora_r", "4"], "train"),
    (["gguf"], ["eval", "--policy", "smollm2", "--ns", "1", "--episodes", "1", "-o", "r"], "smollm2"),
    (
        ["reasoning_gym"],
        ["eval", "-s", "reasoning_gym:chain_sum", "--ns", "1", "--episodes", "1", "-o", "r"],
        "reasoning",
    ),
    (["openenv"], ["serve-env", "--port", "9"], "openenv"),
    (["fastapi", "uvicorn"], ["retriever", "serve", "--corpus", WORLD, "--port", "9"], "server"),
    (["jinja2"], ["shop", "serve", "--port", "9"], "shop"),
    (
        ["faiss", "sentence_transformers"],
        ["index", "build", "--corpus", WORLD, "-o", "d", "--backend", "dense"],
        "dense",
    ),
    (["pyserini"], ["index", "build", "--corpus", WORLD, "-o", "l", "--backend", "lucene"], "lucene"),
    (["vllm"], ["eval", "--policy", "vllm:m", "--ns", "1", "--episodes", "1", "-o", "r"], "vllm"),
]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("hidden", "args", "extra"), ONE_EXTRA_MISSING, ids=lambda v: ",".join(v) if isinstance(v, list) else v
)
def test_each_extra_missing_alone_is_named(hidden, args, extra, tmp_path):
    from tests.conftest import require

    require("torch", "trl", "fastapi", "openenv", "reasoning_gym", "faiss", "pyserini", "gguf", "jinja2", "peft")
    assert_names_an_extra(run_without(hidden, args, tmp_path), extra)
