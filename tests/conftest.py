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
# Wall-clock limit of a subprocess a test runs: a guard against hangs, never a speed check (a loaded
# 2-core machine runs the examples several times slower than an idle one). Speed lives in benchmarks/.
HANG_GUARD_S = 1800


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


def require(*modules: str) -> None:
    """Skip when an optional back-end is not installed; fail instead under ENVKIT_REQUIRE_EXTRAS=1 (CI)."""
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        message = f"needs {', '.join(missing)} (pip install -e '.[all]')"
        if os.environ.get("ENVKIT_REQUIRE_EXTRAS") == "1":
            pytest.fail(message)
        pytest.skip(message)


class LiveServer:
    """A real uvicorn server on 127.0.0.1 in a background thread.

    With ``limits`` (``header_timeout=``, ``body_timeout=``, ...) it runs under envkit's own
    hardened config (:func:`envkit.net.uvicorn_config`), as the envkit servers do.
    """

    def __init__(self, app, **limits) -> None:
        import threading

        import uvicorn

        from envkit.net import listen, uvicorn_config

        sock = listen("127.0.0.1", 0)
        self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn_config(app, **limits) if limits else uvicorn.Config(app, log_level="error")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()
        import time

        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def tiny():
    """The tiny tokenizer and model of envkit.policy.tiny (built once; tests must leave the weights alone)."""
    require("torch", "transformers", "tokenizers")
    from envkit.policy.tiny import tiny_model, tiny_tokenizer

    tokenizer = tiny_tokenizer()
    return tokenizer, tiny_model(tokenizer)
