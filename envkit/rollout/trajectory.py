"""Trajectory records: every turn of an episode as the policy saw it, and the episode's scores.

One :class:`Trajectory` per episode, one JSON line per trajectory in a trajectory file
(``format: envkit.trajectory/1``). A :class:`TurnRecord` holds the context the policy
was given (chat messages), its raw output, the parsed action, the env's observation and
reward, and the token accounting; the token ids and log-probabilities of model turns
are kept in memory for the trainer and written only when asked (they are large).

Episode scores follow MEM1's reporting: EM as the sum over objectives (MEM1's tables)
and the mean, token F1, success (every objective fully achieved), peak and mean context
tokens, and the *dependency*: the number of (generated token, context token) pairs
attention had to relate over the episode, ``sum over turns of g*c + g*(g-1)/2`` for a
turn of ``g`` generated tokens written from a context of ``c`` tokens. It grows with
the square of the horizon under ``full`` context and linearly under ``consolidated``.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from envkit.policy.base import Generation
from envkit.protocol.context import Message

__all__ = ["FORMAT", "Trajectory", "TurnRecord", "drop_partial_tail", "read_trajectories", "write_trajectories"]

FORMAT = "envkit.trajectory/1"


@dataclass(slots=True)
class TurnRecord:
    """One turn: context in, output out, what the env made of it."""

    context: list[Message]
    output: str
    action: str | None
    action_content: str | None
    observation: str
    reward: float
    violation: str | None
    context_tokens: int
    generated_tokens: int
    latency_s: float
    generation: Generation | None = field(default=None, repr=False)

    def to_dict(self, token_ids: bool = False) -> dict[str, Any]:
        record = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "generation"}
        if token_ids and self.generation is not None:
            record.update(
                prompt_ids=self.generation.prompt_ids,
                completion_ids=self.generation.completion_ids,
                logprobs=self.generation.logprobs,
            )
        return record


@dataclass(slots=True)
class Trajectory:
    """One episode: its turns and its scores."""

    task_id: str
    task_index: int
    n_objectives: int
    builder: str
    reward: float = 0.0
    terminated: bool = False
    truncated: bool = False
    objective_scores: list[float] = field(default_factory=list)  # per objective, in task order (the env's)
    metrics: dict[str, float] = field(default_factory=dict)  # what the env reports, e.g. QA's em_sum, em_mean
    violations: int = 0
    budget_exceeded: bool = False
    wall_s: float = 0.0
    gpu_peak_bytes: int | None = None
    case: str = ""  # which evaluation case played it (a suite's task file), when an eval did
    turns: list[TurnRecord] = field(default_factory=list)

    @property
    def em_sum(self) -> float | None:
        """Questions answered exactly (MEM1's figure); ``None`` when the task has no questions."""
        return self.metrics.get("em_sum")

    @property
    def em_mean(self) -> float | None:
        return self.metrics.get("em_mean")

    @property
    def f1_mean(self) -> float | None:
        return self.metrics.get("f1_mean")

    @property
    def success(self) -> bool:
        """Every objective fully achieved (EM 1 for a question, reward 1 for a purchase)."""
        return (
            self.terminated
            and len(self.objective_scores) == self.n_objectives
            and all(s == 1.0 for s in self.objective_scores)
        )

    @property
    def peak_context_tokens(self) -> int:
        """The largest context the policy generated from (MEM1's memory measure)."""
        return max((t.context_tokens for t in self.turns), default=0)

    @property
    def mean_context_tokens(self) -> float:
        return sum(t.context_tokens for t in self.turns) / len(self.turns) if self.turns else 0.0

    @property
    def generated_tokens(self) -> int:
        return sum(t.generated_tokens for t in self.turns)

    @property
    def dependency(self) -> int:
        """Attention pairs of generated tokens over the episode (see the module docstring)."""
        return sum(t.generated_tokens * t.context_tokens + t.generated_tokens * (t.generated_tokens - 1) // 2
                   for t in self.turns)  # fmt: skip

    def to_dict(self, token_ids: bool = False) -> dict[str, Any]:
        record = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "turns"}
        record.update(
            format=FORMAT,
            em_sum=self.em_sum,
            em_mean=self.em_mean,
            f1_mean=self.f1_mean,
            success=self.success,
            peak_context_tokens=self.peak_context_tokens,
            mean_context_tokens=self.mean_context_tokens,
            generated_tokens=self.generated_tokens,
            dependency=self.dependency,
            turns=[t.to_dict(token_ids) for t in self.turns],
        )
        return record

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> Trajectory:
        turn_fields = {f.name for f in fields(TurnRecord)} - {"generation"}
        turns = [TurnRecord(**{k: v for k, v in t.items() if k in turn_fields}) for t in record.get("turns", ())]
        names = {f.name for f in fields(cls)} - {"turns"}
        trajectory = cls(**{k: v for k, v in record.items() if k in names}, turns=turns)
        if "metrics" not in record:  # written before metrics were a field: the QA figures were top-level
            legacy = {k: record.get(k) for k in ("em_sum", "em_mean", "f1_mean")}
            trajectory.metrics = {k: float(v) for k, v in legacy.items() if v is not None}
        return trajectory


def write_trajectories(trajectories: Iterable[Trajectory], path: str | Path, token_ids: bool = False) -> int:
    """Append trajectories to a JSONL file (one episode per line); returns how many were written."""
    count = 0
    with Path(path).open("a", encoding="utf-8") as handle:
        for trajectory in trajectories:
            handle.write(json.dumps(trajectory.to_dict(token_ids), ensure_ascii=False) + "\n")
            count += 1
    return count


def drop_partial_tail(path: str | Path) -> int:
    """Cut a half-written last line (a crash mid-append) off a trajectory file; returns the bytes dropped.

    Every episode is appended as one line ending in a newline, so bytes after the last
    newline are an episode whose write never finished: dropped with a warning, so a
    resumed run appends after whole lines instead of refusing the file.
    """
    path = Path(path)
    with path.open("rb+") as handle:
        size = handle.seek(0, 2)
        if size == 0:
            return 0
        position = size
        while position > 0:  # back to the last newline, a block at a time
            step = min(65536, position)
            handle.seek(position - step)
            block = handle.read(step)
            newline = block.rfind(b"\n")
            if newline >= 0:
                position = position - step + newline + 1
                break
            position -= step
        dropped = size - position
        if dropped:
            handle.truncate(position)
            warnings.warn(f"{path}: dropped a half-written last line ({dropped} bytes)", stacklevel=2)
        return dropped


def read_trajectories(path: str | Path) -> Iterator[Trajectory]:
    """Read a trajectory file back (errors name the file and line)."""
    with Path(path).open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}:{number}: invalid JSON ({error.msg})") from None
            if not isinstance(record, dict) or record.get("format") != FORMAT:
                raise ValueError(f"{path}:{number}: not an envkit trajectory (expected format {FORMAT!r})")
            yield Trajectory.from_dict(record)
