"""A curriculum over the number of objectives: train on more objectives as training goes on or as reward improves.

MEM1 trains at a fixed N = 2 and tests far beyond it; a schedule lets training itself
reach longer horizons. ``Mem1GRPOConfig(n_schedule="2:200,4:400,8")`` plays N = 2 until
step 200, N = 4 until step 400, then N = 8; a bound written ``rX`` instead of a step
(``"2:r0.8,4:r0.8,8"``) moves on once a rollout batch's mean episode reward reaches X.
Every stage but the last has a bound; the last has none. Stages only move forward.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Curriculum", "Stage", "parse_n_schedule"]

_STAGE = re.compile(r"(\d+)(?::(?:(\d+)|r(\d*\.?\d+)))?")


@dataclass(frozen=True, slots=True)
class Stage:
    """Play ``n`` objectives until step ``until_step``, or until a batch's mean reward reaches ``until_reward``."""

    n: int
    until_step: int | None = None
    until_reward: float | None = None


def parse_n_schedule(spec: str) -> tuple[Stage, ...]:
    """The stages of ``"2:200,4:400,8"`` or ``"2:r0.8,4:r0.8,8"``; a malformed schedule raises ValueError naming it."""
    stages = []
    parts = [part.strip() for part in spec.split(",")]
    for index, part in enumerate(parts):
        match = _STAGE.fullmatch(part)
        last = index == len(parts) - 1
        if match is None or int(match.group(1)) < 1:
            raise ValueError(f"n_schedule {spec!r}: bad stage {part!r} (use N:STEP, N:rREWARD, and a last N alone)")
        bounded = match.group(2) is not None or match.group(3) is not None
        if bounded == last:
            which = "the last stage takes no bound" if last else f"stage {part!r} needs a bound (N:STEP or N:rREWARD)"
            raise ValueError(f"n_schedule {spec!r}: {which}")
        step = int(match.group(2)) if match.group(2) is not None else None
        reward = float(match.group(3)) if match.group(3) is not None else None
        stages.append(Stage(int(match.group(1)), step, reward))
    steps = [stage.until_step for stage in stages if stage.until_step is not None]
    if steps != sorted(set(steps)):
        raise ValueError(f"n_schedule {spec!r}: step bounds must increase")
    return tuple(stages)


class Curriculum:
    """Where training is in its schedule: the current N, moved forward by steps and rewards."""

    def __init__(self, stages: tuple[Stage, ...]) -> None:
        if not stages:
            raise ValueError("a curriculum needs at least one stage")
        self.stages = stages
        self.index = 0

    @classmethod
    def parse(cls, spec: str) -> Curriculum:
        """A curriculum from an ``n_schedule`` spec."""
        return cls(parse_n_schedule(spec))

    def n_at(self, step: int) -> int:
        """The N to play at optimizer step ``step`` (passing step bounds moves forward)."""
        while (bound := self.stages[self.index].until_step) is not None and step >= bound:
            self.index += 1
        return self.stages[self.index].n

    def observe(self, mean_reward: float) -> None:
        """A rollout batch's mean episode reward: a reward bound it reaches moves to the next stage."""
        stage = self.stages[self.index]
        if stage.until_reward is not None and mean_reward >= stage.until_reward:
            self.index += 1
