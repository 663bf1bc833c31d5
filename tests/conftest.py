"""Shared fixtures: a small synthetic world, its retriever, and an env factory."""

from __future__ import annotations

import os

import gymnasium as gym
import pytest

import envkit  # noqa: F401  (registers the envs)
from composers import SyntheticSource
from envkit.envs import QA_ENV_ID
from envkit.retrieval.factory import synthetic_retriever

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

SMALL_WORLD = "synthetic:passages=2000,seed=3"


@pytest.fixture(scope="session")
def small_source() -> SyntheticSource:
    return SyntheticSource(passages=2000, seed=3)


@pytest.fixture(scope="session")
def small_retriever(small_source):
    world = small_source.world
    return synthetic_retriever(world.passages, world.seed, world.test_fraction)


@pytest.fixture
def make_env():
    envs: list[gym.Env] = []

    def factory(**kwargs) -> gym.Env:
        kwargs.setdefault("source", SMALL_WORLD)
        env = gym.make(QA_ENV_ID, **kwargs)
        envs.append(env)
        return env

    yield factory
    for env in envs:
        env.close()
