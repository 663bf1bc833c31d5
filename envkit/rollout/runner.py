"""The rollout runner: a policy plays episodes of an env, one at a time or a batch at a time.

``batch_size=1`` plays episodes one after another (sync). ``batch_size=B`` keeps ``B``
envs in lockstep: at every step the policy is asked once for all waiting episodes (one
batched ``generate`` for a model policy), and an env whose episode ends starts the next
task at once, so the batch stays full until the queue runs out. The runner knows
nothing of models: it hands the policy the context the env's
:class:`~envkit.envs.wrappers.ProtocolContext` built and the closing tags of the env's
actions, and records what came back as :class:`~envkit.rollout.trajectory.Trajectory`.

A policy that refuses a context as over its token budget gets that turn recorded as the
violation ``context_over_budget`` and the episode truncated: nothing is cut to fit.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym

from envkit.policy.base import Generation, Policy, TurnRequest
from envkit.policy.lockstep import Lockstep
from envkit.rollout.trajectory import Trajectory, TurnRecord, drop_partial_tail, read_trajectories, write_trajectories

__all__ = ["OVER_BUDGET", "RolloutRunner", "env_factory"]

OVER_BUDGET = "context_over_budget"


def env_factory(env_id: str, **kwargs: Any) -> Callable[[], gym.Env[str, str]]:
    """A factory for ``gym.make(env_id, **kwargs)`` (what the runner builds its envs with)."""
    return lambda: gym.make(env_id, **kwargs)


@dataclass(slots=True)
class _Slot:
    env: gym.Env[str, str]
    stop: tuple[str, ...]
    trajectory: Trajectory | None = None
    observation: str = ""
    info: dict[str, Any] = field(default_factory=dict)
    started: float = 0.0


class RolloutRunner:
    """Plays episodes of envs made by ``make_env`` with ``policy``, ``batch_size`` at a time.

    Args:
        make_env: builds one env (e.g. :func:`env_factory`); called ``batch_size`` times.
        policy: any :class:`~envkit.policy.base.Policy`.
        batch_size: episodes played at once (1: sync).
        seed: seeds each env's first reset (env ``i`` gets ``seed + i``); ``None`` leaves the envs' generators as
            they are.
        lockstep: with a policy whose parameters are sharded across processes, every process
            takes part in every turn (an empty one once its own episodes are done) until all
            are done (:mod:`envkit.policy.lockstep`).

    The runner reads an env only through Gymnasium's API and the :class:`~envkit.kinds.base.ObjectiveEnv`
    contract (``tasks``, ``task`` and ``tags`` through any wrappers; ``objective_scores``,
    ``action_content`` and ``metrics`` in ``info``), so it plays every objective kind alike.

    """

    def __init__(
        self,
        make_env: Callable[[], gym.Env[str, str]],
        policy: Policy,
        batch_size: int = 1,
        seed: int | None = 0,
        lockstep: Lockstep | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.make_env, self.policy, self.batch_size, self.seed = make_env, policy, batch_size, seed
        self.lockstep = lockstep
        self._slots: list[_Slot] = []

    @property
    def n_tasks(self) -> int:
        """How many tasks the env draws from."""
        return len(self._slot(0).env.get_wrapper_attr("tasks"))

    @property
    def first_env(self) -> gym.Env[str, str]:
        """The env of the first slot (built on first use): what the episodes are played in."""
        return self._slot(0).env

    def _slot(self, index: int) -> _Slot:
        while len(self._slots) <= index:
            env = self.make_env()
            tags = env.get_wrapper_attr("tags")
            self._slots.append(_Slot(env, tuple(f"</{a}>" for a in tags.actions)))
            if self.seed is not None:
                env.reset(seed=self.seed + len(self._slots) - 1)
        return self._slots[index]

    def run(
        self,
        episodes: int | Iterable[int | None],
        on_episode: Callable[[Trajectory], None] | None = None,
        stream_to: str | Path | None = None,
        resume: bool = False,
    ) -> list[Trajectory]:
        """Play ``episodes`` (a count: tasks 0..count-1; or the task indices to play, repeats allowed;
        ``None`` lets the env draw a task).

        Trajectories come back in the order of the task indices; ``on_episode`` is called
        as each episode finishes (a progress bar, a writer). With ``stream_to``, each
        trajectory is appended to that JSONL file the moment its episode ends, so an
        error later (a retrieval outage, a crash) loses no finished episode; ``resume``
        then plays only the episodes the file does not hold yet and returns them all.
        """
        queue: list[int | None] = list(range(episodes)) if isinstance(episodes, int) else list(episodes)
        results: list[Trajectory | None] = [None] * len(queue)
        if stream_to is not None and Path(stream_to).exists() and not resume:
            raise FileExistsError(f"{stream_to} already holds trajectories: resume=True continues that run")
        if stream_to is not None and resume and Path(stream_to).exists():
            self._recover(queue, results, stream_to)
        waiting = [(i, t) for i, t in enumerate(queue) if results[i] is None][::-1]  # popped from the end
        active: dict[int, int] = {}  # slot -> position in queue
        for slot_index in range(min(self.batch_size, len(waiting))):
            position, task_index = waiting.pop()
            self._begin(slot_index, task_index)
            active[slot_index] = position
        while self._turn_ahead(bool(active)):
            if not active:  # done here, not everywhere: an empty turn keeps this process in step
                self.policy.act([])
                continue
            slots = sorted(active)
            requests = [self._request(s) for s in slots]
            generations = self.policy.act(requests)
            if len(generations) != len(requests):
                raise RuntimeError(f"the policy returned {len(generations)} turns for {len(requests)} requests")
            for slot_index, generation in zip(slots, generations, strict=True):
                if not self._advance(slot_index, generation):
                    continue
                trajectory = self._slots[slot_index].trajectory
                assert trajectory is not None
                results[active.pop(slot_index)] = trajectory
                if stream_to is not None:  # on disk the moment it ends: nothing later can lose it
                    write_trajectories([trajectory], stream_to)
                if on_episode is not None:
                    on_episode(trajectory)
                if waiting:
                    position, task_index = waiting.pop()
                    self._begin(slot_index, task_index)
                    active[slot_index] = position
        return [r for r in results if r is not None]

    def _turn_ahead(self, busy: bool) -> bool:
        """Whether another turn is played: this process is ``busy``, or (in lockstep) any process is."""
        return busy if self.lockstep is None else self.lockstep.any(busy)

    @staticmethod
    def _recover(queue: list[int | None], results: list[Trajectory | None], path: str | Path) -> None:
        """Fill ``results`` with the episodes a streamed file already holds, one per queued task index."""
        held: dict[int, list[Trajectory]] = {}
        drop_partial_tail(path)
        for trajectory in read_trajectories(path):
            held.setdefault(trajectory.task_index, []).append(trajectory)
        for position, task_index in enumerate(queue):
            if task_index is not None and held.get(task_index):
                results[position] = held[task_index].pop(0)

    def _begin(self, slot_index: int, task_index: int | None) -> None:
        slot = self._slot(slot_index)
        options = None if task_index is None else {"task_index": task_index}
        slot.observation, slot.info = slot.env.reset(options=options)
        task = slot.env.get_wrapper_attr("task")
        self.policy.start(slot_index, task)
        builder = str(slot.info.get("context_builder", "unknown"))
        index = int(slot.info.get("task_index", -1)) if task_index is None else task_index
        slot.trajectory = Trajectory(task.id, index, task.n_objectives, builder)
        slot.trajectory.objective_scores = [0.0] * task.n_objectives
        slot.trajectory.metrics = dict(slot.info.get("metrics") or {})
        slot.started = time.perf_counter()

    def _request(self, slot_index: int) -> TurnRequest:
        slot = self._slots[slot_index]
        return TurnRequest(slot_index, slot.observation, slot.info, slot.stop)

    def _advance(self, slot_index: int, generation: Generation) -> bool:
        """Apply one generation to the slot's env; True when the episode is over."""
        slot = self._slots[slot_index]
        trajectory = slot.trajectory
        assert trajectory is not None
        context = list(slot.info.get("messages") or [{"role": "user", "content": slot.observation}])
        if generation.gpu_peak_bytes is not None:
            trajectory.gpu_peak_bytes = max(trajectory.gpu_peak_bytes or 0, generation.gpu_peak_bytes)
        if generation.over_budget:
            message = f"context of {generation.context_tokens} tokens is over the policy's budget"
            trajectory.turns.append(
                TurnRecord(context, "", None, None, message, 0.0, OVER_BUDGET, generation.context_tokens, 0, 0.0,
                           generation)
            )  # fmt: skip
            trajectory.violations += 1
            trajectory.budget_exceeded = trajectory.truncated = True
            self._finish(slot)
            return True
        observation, reward, terminated, truncated, info = slot.env.step(generation.text)
        trajectory.turns.append(
            TurnRecord(
                context=context,
                output=generation.text,
                action=info.get("action"),
                action_content=info.get("action_content"),
                observation=_latest_message(info, observation),
                reward=float(reward),
                violation=info.get("violation"),
                context_tokens=generation.context_tokens,
                generated_tokens=generation.generated_tokens,
                latency_s=generation.latency_s,
                generation=generation,
            )
        )
        trajectory.reward += float(reward)
        trajectory.violations += info.get("violation") is not None
        if info.get("objective_scores") is not None:
            trajectory.objective_scores = [float(s) for s in info["objective_scores"]]
        trajectory.metrics.update(info.get("metrics") or {})
        slot.observation, slot.info = observation, info
        if terminated or truncated:
            trajectory.terminated, trajectory.truncated = bool(terminated), bool(truncated)
            self._finish(slot)
            return True
        return False

    def _finish(self, slot: _Slot) -> None:
        assert slot.trajectory is not None
        slot.trajectory.wall_s = time.perf_counter() - slot.started

    def close(self) -> None:
        """Close every env the runner made."""
        for slot in self._slots:
            slot.env.close()
        self._slots = []

    def __enter__(self) -> RolloutRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _latest_message(info: dict[str, Any], observation: str) -> str:
    """The env's own reply to this turn (the last message of the new context)."""
    messages: Sequence[dict[str, str]] = info.get("messages") or ()
    return messages[-1]["content"] if len(messages) > 1 else observation
