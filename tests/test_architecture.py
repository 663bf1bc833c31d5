"""The package's shape: imports flow one way, domains live in their kinds, ``import envkit`` stays light."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# sources -> composers -> tasks -> envs (+ kinds, retrievers, shop) -> protocol -> policy -> rollouts -> eval/trainer
LAYERS = [
    ("composers", "envkit.cache", "envkit.metrics", "envkit.net"),
    ("envkit.protocol", "envkit.retrieval", "envkit.shop"),
    ("envkit.envs", "envkit.kinds"),
    ("envkit.policy",),
    ("envkit.rollout",),
    ("envkit.eval", "envkit.train", "envkit.packing", "envkit.tree_attention", "envkit.adapters", "envkit.testing"),
    ("envkit.cli",),
]


def _layer(module: str) -> int | None:
    for index, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return index
    return None


def _modules():
    for path in sorted([*ROOT.glob("envkit/**/*.py"), *ROOT.glob("composers/**/*.py")]):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield path, ".".join(parts)


def test_no_module_imports_a_layer_above_its_own():
    upward = []
    for path, module in _modules():
        mine = _layer(module)
        if mine is None:  # the package roots (envkit/__init__, __main__) sit on top
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                theirs = _layer(name)
                if theirs is not None and theirs > mine:
                    upward.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {name}")
    assert upward == []


def test_only_the_kinds_name_a_domain():
    """Outside a kind's own modules no code asks whether an objective is a question or a purchase."""
    own = ("envkit/kinds/", "envkit/shop/", "envkit/envs/shop.py", "composers/sources/shop/", "envkit/cli/shop_cmd.py")
    kind_test = re.compile(r"""\.kind\s*[!=]=\s*["']|["'](qa|shop|reasoning)["']\s*[!=]=\s*\w+\.kind""")
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for path, _ in _modules()
        if not str(path.relative_to(ROOT)).startswith(own)
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if kind_test.search(line)
    ]
    assert found == []


def test_import_envkit_loads_no_heavy_module():
    heavy = ("torch", "transformers", "trl", "datasets", "playwright", "reasoning_gym", "pyserini", "faiss", "numba")
    code = f"import sys, envkit, composers, envkit.kinds; print([m for m in {heavy!r} if m in sys.modules])"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_public_methods_of_the_core_classes_say_what_they_do():
    undocumented = []
    for folder in ("envkit/envs", "envkit/kinds", "envkit/protocol", "envkit/retrieval", "envkit/policy"):
        for path in sorted((ROOT / folder).glob("*.py")):
            for cls in ast.parse(path.read_text()).body:
                if not isinstance(cls, ast.ClassDef) or cls.name.startswith("_"):
                    continue
                for node in cls.body:
                    public = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not node.name.startswith("_")
                    if public and ast.get_docstring(node) is None:
                        undocumented.append(f"{folder}/{path.name}: {cls.name}.{node.name}")
    assert undocumented == []
