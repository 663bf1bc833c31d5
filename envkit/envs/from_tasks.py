"""The env for any tasks: the kind's own env for one objective kind, a composite env for several.

``gym.make("envkit/TaskFile-v0", task_file=PATH)`` plays a composed task file whatever
its objectives are; :func:`make_tasks_env` does the same for tasks in memory. Each
option goes where it belongs: ``protocol`` (a preset, :mod:`envkit.envs.protocols`),
``state_tag``, ``context``, ``format_penalty`` and ``token_counter`` to the protocol
wrappers, a kind's resource options (``retriever``, ``corpus``, ``shop``) to the kind
that opens that resource, the rest to the env (or the composite env's parts). An option
nothing takes is an error naming it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym

from composers.compose import compose
from composers.records import Task
from composers.sources.base import QASource
from composers.sources.registry import load_source
from composers.taskfiles import read_tasks
from envkit.envs.protocols import DEFAULT_PROTOCOL, ProtocolPreset, resolve_protocol
from envkit.kinds import KindError, get_kind, kinds_of
from envkit.kinds.registry import in_table_order, updatable
from envkit.protocol.context import AnyContextBuilder
from envkit.protocol.tags import TagSet
from envkit.protocol.tokens import TokenCounter, count_word_pieces
from envkit.shop.shop import DEFAULT_SHOP

__all__ = ["make_composed_env", "make_composite_env", "make_task_file_env", "make_tasks_env"]

_RESOURCE_SAMPLE = 16  # tasks a lazily composed task set shows a kind to find its resource


def make_tasks_env(
    tasks: Sequence[Task],
    kinds: Sequence[str] | None = None,
    sources: Sequence[QASource] = (),
    tags: TagSet | None = None,
    context: str | AnyContextBuilder = "consolidated",
    format_penalty: float = 0.0,
    token_counter: TokenCounter = count_word_pieces,
    turns_left_hint: bool = False,
    protocol: str | ProtocolPreset = DEFAULT_PROTOCOL,
    state_tag: str | None = None,
    **options: Any,
) -> gym.Env[str, str]:
    """The wrapped env for ``tasks`` whose objectives are of ``kinds`` (default: found in a list of tasks).

    ``sources`` are the source objects the tasks were composed from, when known: a kind
    may open its resource from them (the QA kind indexes the passages they ship).
    ``protocol`` names the preset that reads turns and shows context; ``state_tag`` (or
    ``tags``) overrides its state tag; its env defaults apply unless given in ``options``.
    """
    from envkit.envs.composite import CompositeEnv, composite_tags

    if len(tasks) == 0:
        raise ValueError("no tasks to play")
    sample = tasks if isinstance(tasks, list) else [tasks[i] for i in range(min(_RESOURCE_SAMPLE, len(tasks)))]
    names = tuple(kinds) if kinds is not None else kinds_of(sample)
    preset = resolve_protocol(protocol)
    preset.check_kinds(names)
    options = {**preset.env_defaults, **options}
    state = state_tag or preset.state_tag
    resources: dict[str, Any] = {}
    for name in names:
        kind = get_kind(name)
        resource_options, _ = kind.split_options(options)
        share = [kind.objectives_of(t) for t in sample]
        resources[name] = kind.open_resource(share, sources=tuple(sources), **resource_options)
    resource_keys = {k for name in names for k in get_kind(name).resource_options}
    env_options = {k: v for k, v in options.items() if k not in resource_keys}
    env: gym.Env[str, str]
    if len(names) == 1:
        kind = get_kind(names[0])
        unknown = set(env_options) - kind.env_options
        if unknown:
            raise KindError(f"the {kind.name} env takes no option(s) {', '.join(sorted(unknown))}")
        env = kind.make_env(tasks, resources[kind.name], tags or kind.tags(state), **env_options)
    else:
        env = CompositeEnv(tasks, resources, tags=tags or composite_tags(names, state), **env_options)
    return preset.wrap(env, context, format_penalty, token_counter, turns_left_hint)


def make_task_file_env(task_file: str | Path, **options: Any) -> gym.Env[str, str]:
    """The env for a composed task file (``envkit/TaskFile-v0``); ``options`` as :func:`make_tasks_env`."""
    tasks = list(read_tasks(task_file))
    if not tasks:
        raise ValueError(f"{task_file}: the task file holds no tasks")
    return make_tasks_env(tasks, **options)


def make_composed_env(
    source: str | QASource | Sequence[str | QASource] = "synthetic",
    n_objectives: int = 2,
    strategy: str = "parallel",
    split: str = "train",
    seed: int = 0,
    count: int = 100_000,
    weights: Sequence[float] | None = None,
    counts: Sequence[int] | None = None,
    task_file: str | Path | None = None,
    updates: int = 0,
    **options: Any,
) -> gym.Env[str, str]:
    """Tasks composed from any sources, of any kinds (``envkit/Tasks-v0``), or read from ``task_file``.

    ``source``/``strategy``/``n_objectives``/``split``/``seed``/``count`` (and ``weights``
    or ``counts`` for ``mixed``) compose as :func:`composers.compose` does; ``updates``
    adds that many knowledge updates per task (:mod:`composers.updates`); ``options``
    as :func:`make_tasks_env`. One kind plays in its own env, several in a composite env.
    """
    if task_file is not None:
        if updates:
            raise ValueError("updates are composed into tasks: compose the task file with --updates instead")
        return make_task_file_env(task_file, **options)
    specs = [source] if isinstance(source, (str, QASource)) else list(source)
    loaded = [load_source(spec, split) for spec in specs]
    composed = compose(loaded, strategy, n_objectives, count, split, seed, weights=weights, counts=counts)
    tasks = composed.with_updates(updates, updatable)
    shares = counts if counts is not None else weights if weights is not None else [1] * len(loaded)
    present = {s.questions(split)[0].kind for s, share in zip(loaded, shares, strict=True) if share > 0}
    return make_tasks_env(tasks, kinds=in_table_order(present), sources=loaded, **options)


def make_composite_env(
    source: str = "synthetic",
    shop: str = DEFAULT_SHOP,
    n_questions: int = 2,
    n_goals: int = 1,
    sources: Sequence[str] | None = None,
    counts: Sequence[int] | None = None,
    split: str = "train",
    seed: int = 0,
    count: int = 100_000,
    task_file: str | Path | None = None,
    **options: Any,
) -> gym.Env[str, str]:
    """Episodes that mix objective kinds (``envkit/Composite-v0``).

    By default ``n_questions`` from ``source`` and ``n_goals`` purchases from ``shop``
    per task; ``sources`` with ``counts`` compose any mix instead (e.g.
    ``sources=["synthetic", "reasoning_gym:chain_sum"], counts=[2, 2]``). Tasks come
    from the ``mixed`` composer with exact per-source counts, or from ``task_file``.
    ``options`` as :func:`make_tasks_env` (``mode``, ``top_k``, ``retriever``, ``context``...).
    """
    specs = list(sources) if sources is not None else [source, shop]
    per_source = list(counts) if counts is not None else [n_questions, n_goals]
    if task_file is None and sources is None and n_goals > 0:
        options.setdefault("shop", shop)  # the shop the goals come from, opened without reading the tasks
    return make_composed_env(
        specs, sum(per_source), "mixed", split, seed, count, counts=per_source, task_file=task_file, **options
    )
