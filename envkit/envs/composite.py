"""Composite episodes: objectives of several kinds in one task ("answer two questions, buy one product").

:class:`CompositeEnv` holds one env per objective kind present in its tasks (each
kind's own env, built by the kind's plug-in in :mod:`envkit.kinds`, over the tasks
restricted to that kind's objectives) and routes each turn by its action tag. The
parts keep their own rules (one answer turn ends the QA part; each purchase moves to
the next goal; each solved problem to the next problem). The episode ends when every
part is done. The reward is the mean over all N objectives: each part's reward
(which sums to the mean over its objectives) weighted by its share of N.

Nothing here knows a domain: a new kind registered in :mod:`envkit.kinds.registry`
composes with the others unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

import gymnasium as gym

from composers.records import Task
from envkit.envs.episodes import ProcessLocal, choose_task, read_turn, render_turn
from envkit.envs.spaces import UnicodeText
from envkit.kinds import KindError, ObjectiveEnv, ObjectiveKind, get_kind, kind_names
from envkit.protocol.parser import Violation
from envkit.protocol.prompts import PromptSection, composite_prompt
from envkit.protocol.tags import TagSet

__all__ = ["CompositeEnv", "KindView", "composite_tags", "part_tags"]


class KindView(Sequence[Task]):
    """The tasks restricted to the objectives of one kind (computed when read)."""

    def __init__(self, tasks: Sequence[Task], kind: ObjectiveKind) -> None:
        self.tasks, self.kind = tasks, kind

    def __len__(self) -> int:
        return len(self.tasks)

    def __getitem__(self, index):  # type: ignore[no-untyped-def]  # Sequence's overloads; slices are not used
        return self.kind.objectives_of(self.tasks[index])


def composite_tags(kinds: Sequence[str], state: str = "IS", information: str = "information") -> TagSet:
    """The kinds' default action tags, in registry order, under one state tag."""
    actions = tuple(a for name in kinds for a in get_kind(name).actions)
    return TagSet(state, actions, information)


def part_tags(tags: TagSet, kinds: Sequence[str]) -> dict[str, TagSet]:
    """Each kind's share of a composite's ``tags``: the shared state tag and its own actions, in order."""
    actions = iter(tags.actions)
    return {
        name: TagSet(tags.state, tuple(next(actions) for _ in get_kind(name).actions), tags.information)
        for name in kinds
    }


class CompositeEnv(ProcessLocal, gym.Env[str, str]):
    """Tasks that mix objective kinds.

    Args:
        tasks: tasks whose objectives are of the kinds in ``resources``.
        resources: each kind's resource by kind name (``{"qa": retriever, "shop": shop}``),
            as the kind's ``open_resource`` returns it; its keys are the parts.
        tags: one state tag and every part's action tags, in registry order
            (default: each kind's own, e.g. ``search``, ``answer``, ``action``).
        max_turns: default: the sum of the parts' turn budgets for the task.
        options: passed to the part whose kind takes them (``top_k`` to QA, ``mode`` to the shop...).

    ``info`` gains ``part`` (the kind that played the turn, or ``None``), ``open_parts``
    (kinds not done yet) and ``objective_scores`` over all N objectives in task order.

    """

    metadata = {"render_modes": ["ansi", "human"], "render_fps": 4}  # noqa: RUF012 (Gymnasium declares it per instance)

    def __init__(
        self,
        tasks: Sequence[Task],
        resources: Mapping[str, Any],
        tags: TagSet | None = None,
        max_turns: int | None = None,
        render_mode: str | None = None,
        **options: Any,
    ) -> None:
        if len(tasks) == 0:
            raise ValueError("the composite env needs at least one task")
        names = [name for name in kind_names() if name in resources]
        unknown = set(resources) - set(names)
        if unknown:
            raise KindError(f"unknown objective kind(s): {', '.join(sorted(unknown))}")
        kinds = [get_kind(name) for name in names]
        tags = tags or composite_tags(names)
        if len(tags.actions) != sum(len(k.actions) for k in kinds):
            expected = ", ".join(f"{k.name}: {len(k.actions)}" for k in kinds)
            raise ValueError(
                f"the composite env needs one action tag per kind's action ({expected}), got {tags.actions}"
            )
        taken = {o for k in kinds for o in k.env_options} - {"max_turns", "render_mode"}
        if set(options) - taken:
            raise KindError(f"no objective kind takes the option(s) {', '.join(sorted(set(options) - taken))}")
        self.tasks, self.tags, self.max_turns, self.render_mode = tasks, tags, max_turns, render_mode
        self.parts: dict[str, gym.Env[str, str]] = {}
        self._owner: dict[str, str] = {}  # action tag -> kind
        shares = part_tags(tags, names)
        for kind in kinds:
            part_options = {k: v for k, v in options.items() if k in kind.env_options}
            view = KindView(tasks, kind)
            self.parts[kind.name] = kind.make_env(
                view, resources[kind.name], shares[kind.name], max_turns=10**9, **part_options
            )
            self._owner.update(dict.fromkeys(shares[kind.name].actions, kind.name))
        self.observation_space = UnicodeText(262_144)
        self._max_action_chars = 16_384
        self.action_space = UnicodeText(self._max_action_chars)
        self.task: Task | None = None
        self._done, self._last, self._turn = True, "", 0
        self._open: list[str] = []
        self._positions: dict[str, list[int]] = {}
        self._scores: list[float] = []
        self._headings: dict[str, str] = {}  # kind -> its objectives' name in the prompt ("questions")
        self._sections: list[PromptSection] = []

    def turn_budget(self, task: Task) -> int:
        """The sum of the parts' budgets for their objectives of ``task``."""
        budget = 0
        for name, part in self.parts.items():
            share = get_kind(name).objectives_of(task)
            if share.objectives:
                budget += cast(ObjectiveEnv, part).turn_budget(share)
        return budget

    @property
    def turns_left(self) -> int:
        """Turns the agent may still take in this episode."""
        return max(0, self._limit - self._turn) if self.task is not None else 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        """Start an episode; ``options={"task_index": i}`` picks a task, else one is drawn."""
        super().reset(seed=seed)
        index = choose_task(self.np_random, len(self.tasks), options)
        task = self.task = self.tasks[index]
        missing = {o.kind for o in task.objectives} - set(self.parts)
        if missing:
            raise KindError(f"task {task.id} has objectives of kind(s) this env has no part for: {sorted(missing)}")
        self._positions = {name: [i for i, o in enumerate(task.objectives) if o.kind == name] for name in self.parts}
        self._open = [name for name in self.parts if self._positions[name]]
        self._scores = [0.0] * task.n_objectives
        self._turn, self._done = 0, False
        self._limit = self.max_turns or self.turn_budget(task)
        info: dict[str, Any] = {}
        sections = []
        self._headings = {}
        for name in self._open:
            _, part_info = self.parts[name].reset(options={"task_index": index})
            info.update(part_info)
            sections.append(cast(ObjectiveEnv, self.parts[name]).prompt_section())
            self._headings[name] = sections[-1].heading.lower()
        self._sections = sections
        openings = "".join(f"\n{s.opening}" for s in sections if s.opening)
        self._last = composite_prompt(sections, self.tags) + openings
        info.update(task_id=task.id, task_index=index, n_objectives=task.n_objectives, turn=0)
        info.update(objective_scores=list(self._scores), open_parts=list(self._open), part=None)
        return self._last, info

    def prompt_sections(self) -> list[PromptSection]:
        """The current task's prompt, one section per kind it holds (another protocol may word the prompt)."""
        return list(self._sections)

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """Route the turn to the part that owns its action tag."""
        if self._done or self.task is None:
            raise RuntimeError("the episode is over: call reset() before step()")
        self._turn += 1
        parsed = read_turn(action, self.tags, self._max_action_chars)
        reward, part_truncated = 0.0, False
        info: dict[str, Any]
        if isinstance(parsed, Violation):
            info = {"action": None, "action_content": None, "part": None}
            info.update(violation=parsed.kind.value, violation_message=parsed.message)
            observation = self.tags.information_block(f"Invalid turn: {parsed.message}. Please {self.tags.describe()}.")
        elif self._owner[parsed.action.name] not in self._open:
            heading = self._headings.get(self._owner[parsed.action.name], "objectives of this kind")
            observation, info = self._refuse(f"the {heading} are already done")
        else:
            name = self._owner[parsed.action.name]
            observation, r, terminated, truncated, info = self.parts[name].step(action)
            positions = self._positions[name]
            reward = float(r) * len(positions) / self.task.n_objectives
            for position, score in zip(positions, info.get("objective_scores", ()), strict=False):
                self._scores[position] = float(score)
            if terminated or truncated:
                self._open.remove(name)
            part_truncated = bool(truncated)
            info["part"] = name
        terminated = not self._open and not part_truncated
        truncated = not terminated and (part_truncated or self._turn >= self._limit)
        self._done = terminated or truncated
        info.update(task_id=self.task.id, n_objectives=self.task.n_objectives, turn=self._turn)
        info.update(objective_scores=list(self._scores), open_parts=list(self._open))
        self._last = observation
        if self.render_mode == "human":
            self.render()
        return observation, reward, terminated, truncated, info

    def _refuse(self, why: str) -> tuple[str, dict[str, Any]]:
        info: dict[str, Any] = {"action": None, "action_content": None, "violation": None, "violation_message": None}
        info.update(refused=why, part=None)
        return self.tags.information_block(f"Invalid action: {why}."), info

    def render(self) -> str | None:
        """``ansi``: the latest message as text; ``human``: print it."""
        return render_turn(self.render_mode, self._turn, self._last)

    def close(self) -> None:
        """Close every part."""
        for part in self.parts.values():
            part.close()
        super().close()
