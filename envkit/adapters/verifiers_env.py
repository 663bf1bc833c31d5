"""envkit tasks as a verifiers environment (``verifiers.v1``): ``vf-eval envkit_verifiers -m MODEL ...``.

verifiers (the library behind Prime Intellect's ``prime`` CLI and prime-rl) splits an
environment into a *taskset* (the tasks) and an *env* (how one task becomes one
episode), and reaches the model through an OpenAI-compatible endpoint from a *harness*
program. Here the taskset is an envkit task set (composed from any source, or read from a
task file) and the env plays each task through envkit's Gymnasium env with envkit's one
episode loop (:class:`~envkit.rollout.runner.RolloutRunner`), so the protocol's context
builder decides what the model sees: every turn is one model call whose prompt is
exactly that turn's context (``info["messages"]``, what envkit's own policies render),
run by verifiers' tool-less ``null`` harness. A consolidated context therefore reaches
the model as MEM1 defines it, not as a growing chat.

Each turn is one trace of the episode. Every trace carries the episode's return as the
reward ``envkit_reward`` (MEM1 credits every turn with the episode's reward), the env's
metrics (EM, F1, peak context tokens, protocol violations, turns) and, in
``trace.info["envkit_step"]``, the observation the turn was played on and what the env
returned for it (observation, reward, done), which ``envkit.testing.conformance``
compares with the Gymnasium env (:func:`episode_steps`).

verifiers imports a taskset by a plain module name, so the distribution ships the
top-level module ``envkit_verifiers`` that exports the two classes defined here.
"""

from __future__ import annotations

import asyncio
import queue
import time
from collections.abc import Iterator, Sequence
from typing import Any

import gymnasium as gym
import verifiers.v1 as vf
from pydantic import Field
from verifiers.v1.types import content_text

from envkit.envs import TASKS_ENV_ID
from envkit.envs.protocols import DEFAULT_PROTOCOL
from envkit.policy.base import Generation, TurnRequest, through_first_stop
from envkit.rollout.runner import RolloutRunner
from envkit.rollout.trajectory import Trajectory
from envkit.testing.conformance import EpisodeStep

__all__ = [
    "EnvkitData",
    "EnvkitEnv",
    "EnvkitEnvConfig",
    "EnvkitTask",
    "EnvkitTaskset",
    "EnvkitTasksetConfig",
    "VerifiersAgentPolicy",
    "episode_steps",
]

REWARD_NAME = "envkit_reward"
STEP_INFO_KEY = "envkit_step"


class EnvkitTasksetConfig(vf.TasksetConfig):
    """Which envkit tasks to play and how (``--env.taskset.<field>`` on ``vf-eval``): ``envkit/Tasks-v0``'s options."""

    source: list[str] = Field(default_factory=lambda: ["synthetic"], min_length=1)
    """Source specs the tasks are composed from (any objective kind; several mix with ``strategy=mixed``)."""
    n_objectives: int = Field(2, ge=1)
    """Objectives per task."""
    strategy: str = "parallel"
    """parallel, chained or mixed."""
    split: str = "test"
    """train or test."""
    task_file: str | None = None
    """Play the tasks of a composed task file instead of composing them."""
    num_tasks: int = Field(100, ge=1)
    """How many tasks the taskset holds (the first ``num_tasks`` composed, or of the task file)."""
    compose_seed: int = 0
    """Seed the tasks are composed with."""
    context: str = "consolidated"
    """Context builder: consolidated, full or window(K)."""
    protocol: str = DEFAULT_PROTOCOL
    """Protocol preset (tags and how turns are read)."""
    max_turns: int | None = None
    """Turns per episode (default: each kind's budget)."""
    corpus: str | None = None
    """JSONL corpus the questions are answered from."""
    retriever: str | None = None
    """Retriever spec (default: BM25 over the corpus)."""
    top_k: int | None = None
    """Passages per search."""

    def env_options(self) -> dict[str, Any]:
        """The ``gym.make("envkit/Tasks-v0", ...)`` options this config names (unset ones left to the env)."""
        tasks: dict[str, Any] = (
            {"task_file": self.task_file}
            if self.task_file
            else {
                "source": self.source[0] if len(self.source) == 1 else list(self.source),
                "n_objectives": self.n_objectives,
                "strategy": self.strategy,
                "seed": self.compose_seed,
                "count": self.num_tasks,
            }
        )
        optional = {
            "max_turns": self.max_turns,
            "corpus": self.corpus,
            "retriever": self.retriever,
            "top_k": self.top_k,
        }
        given = {key: value for key, value in optional.items() if value is not None}
        return {**tasks, "split": self.split, "context": self.context, "protocol": self.protocol, **given}


class EnvkitData(vf.TaskData):
    """One envkit task: where it sits in the task set and the env options that play it (recorded on every trace)."""

    task_index: int
    env_options: dict[str, Any]


class EnvkitTask(vf.Task[EnvkitData, vf.State, vf.TaskConfig]):
    """An envkit task; the env scores it (no verifiers reward functions of its own)."""


class EnvkitTurnTask(vf.Task[vf.TaskData, vf.State, vf.TaskConfig]):
    """One turn of an episode: its prompt is the context the protocol shows for that turn."""


def _make_env(options: dict[str, Any]) -> gym.Env[str, str]:
    return gym.make(TASKS_ENV_ID, **options)


class EnvkitTaskset(vf.Taskset[EnvkitTask, EnvkitTasksetConfig]):
    """The first ``num_tasks`` tasks of an envkit task set, each named by its envkit task id."""

    def load(self) -> Iterator[EnvkitTask]:
        options = self.config.env_options()
        env = _make_env(options)  # a bad option fails here, naming it, before any model call
        try:
            tasks = env.get_wrapper_attr("tasks")
            for index in range(min(self.config.num_tasks, len(tasks))):
                task = tasks[index]
                data = EnvkitData(
                    id=task.id, name=task.id, prompt=None, task_index=index, env_options=_json_options(options)
                )
                yield EnvkitTask(data, self.config.task)
        finally:
            env.close()


def _json_options(options: dict[str, Any]) -> dict[str, Any]:
    """The options as the task's wire data records them (paths as strings; a list of sources stays a list)."""

    def plain(value: Any) -> Any:
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        return value if isinstance(value, int | float | str | bool) else str(value)

    return {key: plain(value) for key, value in options.items()}


class _EnvPool:
    """Idle envs by their options: episodes run concurrently, each on an env of its own, and reuse finished ones."""

    def __init__(self) -> None:
        self._idle: dict[str, queue.SimpleQueue[gym.Env[str, str]]] = {}

    def take(self, options: dict[str, Any]) -> gym.Env[str, str]:
        idle = self._idle.setdefault(repr(sorted(options.items())), queue.SimpleQueue())
        try:
            return idle.get_nowait()
        except queue.Empty:
            return _make_env(options)

    def give_back(self, options: dict[str, Any], env: gym.Env[str, str]) -> None:
        self._idle[repr(sorted(options.items()))].put(env)

    def close(self) -> None:
        """Close every idle env (a browser-mode shop holds a Chromium)."""
        for idle in self._idle.values():
            while not idle.empty():
                idle.get_nowait().close()
        self._idle.clear()


class VerifiersAgentPolicy:
    """An envkit policy whose turns a verifiers agent writes: one agent run per turn, on the turn's context.

    The rollout runner is synchronous and runs in a worker thread; each turn is handed to
    the event loop verifiers runs on and awaited there, so envkit's episode loop drives
    verifiers' agent without a second loop of its own. The reply is read through its
    first closing action tag, as envkit's model policies stop there (an OpenAI endpoint
    would drop a stop string from the reply). The traces of the turns are kept, in
    order, in ``traces``.
    """

    def __init__(self, agent: Any, loop: asyncio.AbstractEventLoop, task_config: vf.TaskConfig, name: str) -> None:
        self.agent, self.loop, self.task_config, self.name = agent, loop, task_config, name
        self.traces: list[vf.Trace] = []
        self.shown: list[str] = []  # the observation each turn was played on

    def start(self, slot: int, task: Any) -> None:
        """A new episode: its turns' traces start afresh (the task is in the prompt)."""
        self.traces, self.shown = [], []

    def act(self, requests: Sequence[TurnRequest]) -> list[Generation]:
        """One verifiers agent run per request, on exactly the request's context."""
        return [self._turn(request) for request in requests]

    def _turn(self, request: TurnRequest) -> Generation:
        data = vf.TaskData(name=f"{self.name}/turn{len(self.traces) + 1}", prompt=request.messages)
        started = time.perf_counter()
        self.shown.append(request.observation)
        future = asyncio.run_coroutine_threadsafe(self.agent.run(EnvkitTurnTask(data, self.task_config)), self.loop)
        trace = future.result()
        self.traces.append(trace)
        if not trace.ok:
            problem = trace.errors[-1].message if trace.errors else "no reply"
            raise RuntimeError(f"{self.name}: the model call for turn {len(self.traces)} failed: {problem}")
        return Generation(
            text=through_first_stop(_reply(trace), request.stop),
            context_tokens=trace.num_input_tokens,
            generated_tokens=trace.num_output_tokens,
            latency_s=time.perf_counter() - started,
        )


def _reply(trace: vf.Trace) -> str:
    """The model's reply as it wrote it (``Trace.last_reply`` strips it, which would change the turn's text)."""
    if trace.root_reply:
        return trace.root_reply
    replies = trace.assistant_messages
    return content_text(replies[-1].content) if replies else ""


class EnvkitEnvConfig(vf.EnvConfig):
    """One agent, ``player``: the tool-less ``null`` harness, one model call per turn, nothing added to its prompt."""

    player: vf.AgentConfig = vf.AgentConfig(
        harness={"id": "null"}, runtime={"type": "subprocess"}, max_turns=1, network_notice=False
    )


class EnvkitEnv(vf.Env[EnvkitEnvConfig]):
    """Plays one envkit task per episode through envkit's Gymnasium env and its episode loop."""

    def __init__(self, config: EnvkitEnvConfig) -> None:
        super().__init__(config)
        self._envs = _EnvPool()

    async def run(self, task: EnvkitTask, agents: vf.Agents) -> None:
        options = dict(task.data.env_options)
        env = await asyncio.to_thread(self._envs.take, options)
        policy = VerifiersAgentPolicy(
            agents.player, asyncio.get_running_loop(), task.config, task.data.name or str(task.data.task_index)
        )
        runner = RolloutRunner(lambda: env, policy, batch_size=1, seed=None)
        try:
            (trajectory,) = await asyncio.to_thread(runner.run, [task.data.task_index])
        finally:
            self._envs.give_back(options, env)
        record_episode(trajectory, policy.traces, policy.shown)

    async def stop(self) -> None:
        """Close the envs the episodes used, once the eval stops serving."""
        self._envs.close()


def record_episode(trajectory: Trajectory, traces: Sequence[vf.Trace], shown: Sequence[str]) -> None:
    """Put the episode's reward and metrics on every turn's trace, and each turn's step on its own.

    A step holds the context the turn was played on (``shown``), what the env returned
    for it (``observation``: what the turn added, e.g. the passages; ``reward``,
    ``done``) and how it read the turn (``text``: the reply through its first closing
    tag; ``action``, ``violation``).
    """
    metrics = {
        **trajectory.metrics,
        "turns": float(len(trajectory.turns)),
        "violations": float(trajectory.violations),
        "peak_context_tokens": float(trajectory.peak_context_tokens),
        "success": float(trajectory.success),
    }
    last = len(trajectory.turns) - 1
    for index, (turn, trace, before) in enumerate(zip(trajectory.turns, traces, shown, strict=False)):
        trace.record_reward(REWARD_NAME, trajectory.reward)
        trace.record_metrics(metrics)
        done = index == last and (trajectory.terminated or trajectory.truncated)
        trace.info[STEP_INFO_KEY] = {
            "turn": index + 1,
            "shown": before,
            "text": turn.output,
            "observation": turn.observation,
            "reward": turn.reward,
            "done": done,
            "action": turn.action,
            "violation": turn.violation,
        }


def episode_steps(episode: dict[str, Any]) -> list[EpisodeStep]:
    """An episode of ``vf-eval``'s ``traces.jsonl`` as the steps the agent saw, for ``envkit.testing.conformance``.

    Step 0 is the first context; step ``k`` holds turn ``k``'s reward, end and what it
    added (``latest``), and as ``observation`` the whole context the next turn was played
    on. The context after the last turn is shown to no model, so the last step's
    ``observation`` is empty: compare observations without the last step, and ``latest``
    without the first.
    """
    recorded = [trace["info"][STEP_INFO_KEY] for trace in episode["traces"] if STEP_INFO_KEY in trace.get("info", {})]
    recorded.sort(key=lambda step: int(step["turn"]))
    if not recorded:
        return []
    shown = [step["shown"] for step in recorded[1:]] + [""]
    steps = [EpisodeStep(recorded[0]["shown"], 0.0, False)]
    for step, observation in zip(recorded, shown, strict=True):
        steps.append(EpisodeStep(observation, float(step["reward"]), bool(step["done"]), str(step["observation"])))
    return steps
