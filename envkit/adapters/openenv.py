"""Any envkit env as an OpenEnv environment server (``openenv-core``): reset, step and state over HTTP.

OpenEnv's servers are what TRL, Unsloth and OpenEnv's own clients talk to: an
``Environment`` subclass (``reset``, ``step``, ``state``) served by OpenEnv's FastAPI
app, with one environment instance per session (its WebSocket endpoint ``/ws``, used
by ``EnvClient``/``GenericEnvClient``) and the stateless ``/reset``, ``/step`` and
``/state`` HTTP routes. Here an action is one agent turn as text (``{"text":
"<IS>...</IS><search>...</search>"}``) and an observation is the context the protocol
shows next (``text``), with OpenEnv's ``reward`` and ``done`` and the step's info in
``metadata``, exactly what the Gymnasium env returns (``envkit.testing.conformance``
checks it). ``envkit serve-env`` starts one on 127.0.0.1.

Reset keywords choose the episode: ``seed`` (OpenEnv's) and ``task_index`` (envkit's
``options={"task_index": i}``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import gymnasium as gym
from openenv.core.env_server.interfaces import Environment
from openenv.core.env_server.types import Action, Observation, State
from pydantic import Field

__all__ = ["EnvkitAction", "EnvkitEnvironment", "EnvkitObservation", "EnvkitState", "openenv_app"]


class EnvkitAction(Action):
    """One agent turn, as the model wrote it (state and action elements in the protocol's tags)."""

    text: str = Field(description="The agent's turn, e.g. <IS>notes</IS><search>query</search>.")


class EnvkitObservation(Observation):
    """The context the protocol shows the agent next (the task prompt after a reset)."""

    text: str = Field(default="", description="What the agent reads next.")


class EnvkitState(State):
    """OpenEnv's episode id and step count, and which envkit task is being played."""

    task_id: str | None = Field(default=None, description="The envkit task's id.")
    turn: int = Field(default=0, description="Turns played in this episode.")


def _json_safe(info: Mapping[str, Any]) -> dict[str, Any]:
    """The info entries JSON can carry (numbers, strings, lists, dicts); others are left out."""
    safe = {}
    for key, value in info.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            continue
        safe[str(key)] = value
    return safe


class EnvkitEnvironment(Environment[EnvkitAction, EnvkitObservation, EnvkitState]):
    """An OpenEnv ``Environment`` around one Gymnasium env that ``make_env`` builds."""

    SUPPORTS_CONCURRENT_SESSIONS = True  # every session gets its own env from the factory

    def __init__(self, make_env: Callable[[], gym.Env[str, str]]) -> None:
        super().__init__()
        self._env = make_env()
        self._state = EnvkitState(episode_id=None, step_count=0)

    def reset(self, seed: int | None = None, episode_id: str | None = None, **kwargs: Any) -> EnvkitObservation:
        """Start an episode; ``task_index`` picks a task, as ``options={"task_index": i}`` does in Gymnasium."""
        index: Any = kwargs.get("task_index")
        options = {"task_index": self._task_index(index)} if index is not None else None
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63):
            raise _client_error(f"seed must be an integer from 0 to 2**63 - 1, got {seed!r}")
        observation, info = self._env.reset(seed=seed, options=options)
        task = self._env.get_wrapper_attr("task")
        self._state = EnvkitState(episode_id=episode_id or str(uuid.uuid4()), step_count=0, task_id=task.id, turn=0)
        return EnvkitObservation(text=observation, done=False, reward=0.0, metadata=_json_safe(info))

    def _task_index(self, index: Any) -> int:
        """A task index a client sent, checked: an integer naming one of the env's tasks (else a 4xx)."""
        count = len(self._env.get_wrapper_attr("tasks"))
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < count:
            raise _client_error(f"task_index must be an integer from 0 to {count - 1}, got {index!r}")
        return index

    def step(self, action: EnvkitAction, timeout_s: float | None = None, **kwargs: Any) -> EnvkitObservation:
        """Play one turn; a malformed turn is an observation saying what was wrong, never an error."""
        if self._state.episode_id is None:  # OpenEnv's stateless POST /step: a fresh env, never reset
            raise _client_error(
                "no episode to step: the stateless POST /step keeps no session; "
                "open a WebSocket session at /ws (reset, then step)"
            )
        observation, reward, terminated, truncated, info = self._env.step(action.text)
        self._state.step_count += 1
        self._state.turn = int(info.get("turn") or self._state.step_count)
        metadata = {**_json_safe(info), "terminated": bool(terminated), "truncated": bool(truncated)}
        return EnvkitObservation(
            text=observation, done=bool(terminated or truncated), reward=float(reward), metadata=metadata
        )

    @property
    def state(self) -> EnvkitState:
        return self._state

    def close(self) -> None:
        self._env.close()


def _client_error(message: str) -> Exception:
    """A request error: a 400 over HTTP (FastAPI's HTTPException), an error message over a WebSocket session."""
    from fastapi import HTTPException

    return HTTPException(400, message)


def openenv_app(
    make_env: Callable[[], gym.Env[str, str]], max_sessions: int = 64, idle_timeout_s: float | None = 600.0
) -> Any:
    """OpenEnv's FastAPI app serving envs from ``make_env``, up to ``max_sessions`` concurrent sessions.

    A session idle for ``idle_timeout_s`` seconds is closed and its slot freed (OpenEnv's
    own reaper, which checks every quarter of the timeout, at least every 5 s): clients
    that open sessions and vanish otherwise fill every slot until the server restarts.
    """
    from openenv.core.env_server.http_server import create_fastapi_app
    from openenv.core.env_server.types import ConcurrencyConfig

    limits = ConcurrencyConfig(max_concurrent_envs=max_sessions, session_timeout=idle_timeout_s)
    return create_fastapi_app(
        lambda: EnvkitEnvironment(make_env), EnvkitAction, EnvkitObservation, concurrency_config=limits
    )
