"""Spec strings resolve through tables that users extend; help texts and errors are generated from them."""

from __future__ import annotations

import gymnasium as gym
import pytest

from composers import compose
from composers.compose import STRATEGY_TABLE
from composers.records import Objective
from composers.sources.base import SourceError
from composers.sources.registry import SOURCES, register_source
from envkit.envs import QA_ENV_ID
from envkit.kinds.oracle import TaskOracle
from envkit.policy.specs import POLICIES, load_policy
from envkit.protocol.context import CONTEXT_BUILDERS, Window, make_context_builder
from envkit.retrieval.base import RetrieverError
from envkit.retrieval.bm25 import BM25Retriever
from envkit.retrieval.factory import RETRIEVERS, make_retriever
from envkit.retrieval.store import INDEX_BACKENDS
from envkit.rollout.episode import run_episode
from tests.conftest import SMALL_WORLD


class _Capitals:
    """A two-question source written by a user."""

    name = "capitals"

    def questions(self, split: str):
        return [
            Objective("fr", "What is the capital of France?", ("Paris",), "capitals", queries=("France",)),
            Objective("it", "What is the capital of Italy?", ("Rome",), "capitals", queries=("Italy",)),
        ]

    def documents(self):
        yield "d1", "France", "Paris is the capital of France."
        yield "d2", "Italy", "Rome is the capital of Italy."


def test_every_family_lists_its_forms_and_names_a_bad_spec():
    assert "reasoning_gym:NAME" in SOURCES.usage() and "window(K)" in CONTEXT_BUILDERS.usage()
    assert set(STRATEGY_TABLE.prefixes()) == {"parallel", "chained", "mixed"}
    assert {"bm25", "lucene", "dense", "hybrid"} <= set(RETRIEVERS.prefixes())
    assert set(INDEX_BACKENDS) == {"bm25", "lucene", "dense"}
    assert {"oracle", "smollm2", "hf", "server"} <= set(POLICIES.prefixes())
    with pytest.raises(RetrieverError, match=r"unknown retriever 'bm99' \(use bm25, bm25:rank_bm25, lucene"):
        make_retriever("bm99", [("a", "t", "x")])
    with pytest.raises(ValueError, match="unknown context builder 'last'"):
        make_context_builder("last")
    with pytest.raises(ValueError, match="unknown policy 'gpt5'"):
        load_policy("gpt5")


def test_registered_specs_work_wherever_specs_are_taken(monkeypatch):
    register_source("capitals", lambda rest, spec, split: _Capitals(), "capitals")
    monkeypatch.setitem(RETRIEVERS._rows, "exact", RETRIEVERS._rows["bm25"])  # restored after the test
    RETRIEVERS.register("exact", lambda rest, spec, corpus: BM25Retriever(corpus), "exact")
    monkeypatch.setitem(CONTEXT_BUILDERS._rows, "pair", CONTEXT_BUILDERS._rows["full"])
    CONTEXT_BUILDERS.register("pair", lambda rest, spec: Window(2), "'pair'")
    env = gym.make(QA_ENV_ID, source="capitals", n_objectives=2, retriever="exact", context="pair")
    trajectory = run_episode(env, TaskOracle(), task_index=0)
    assert trajectory.success and trajectory.builder == "window(2)"
    with pytest.raises(SourceError, match="unknown source 'capitols'"):
        compose("capitols", "parallel", 1, 1)
    assert len(compose(SMALL_WORLD, "parallel", 2, 3)) == 3


def test_every_policy_the_readme_names_is_a_known_spec():
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    specs = set(re.findall(r"--policy ([\w:./\-]+)", readme))
    assert specs, "the README shows policies"
    for spec in specs:
        prefix, _, rest = spec.partition(":")
        assert prefix in POLICIES and (prefix not in ("hf", "vllm", "server") or rest), spec
        if prefix == "hf":
            assert "/" in rest or rest.startswith(("/", ".")), f"{spec}: a hub id is OWNER/NAME"
