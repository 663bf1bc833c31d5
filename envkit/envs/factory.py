"""``gym.make("envkit/MultiObjectiveQA-v0", ...)``: sources, tasks, retriever, wrappers.

Tasks come either from a composer (``source`` + ``strategy`` + ``n_objectives``) or
from a composed task file (``task_file``). The retriever is a
:class:`~envkit.retrieval.base.Retriever` object or a spec (``"bm25"``) over a corpus:
``corpus`` (a JSONL path) when given, else the passages the sources ship (the
synthetic world, HotpotQA contexts). For a task file the corpus is the one its objectives
name as their ``source`` (the synthetic world, a local file), so no corpus needs to be named.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym

from composers.records import Task
from composers.sources.base import CorpusSource, QASource, SourceError
from composers.sources.registry import load_source
from composers.sources.synthetic import SyntheticSource
from composers.sources.synthetic.questions import parse_world_key
from envkit.retrieval.base import Retriever, RetrieverError
from envkit.retrieval.factory import make_retriever, synthetic_retriever

__all__ = ["DEFAULT_SOURCE", "make_qa_env", "retriever_for_sources", "retriever_for_tasks"]

DEFAULT_SOURCE = "synthetic"


def retriever_for_sources(spec: str, sources: Sequence[QASource], corpus: str | Path | None) -> Retriever:
    """A ``spec`` retriever over ``corpus``, else over the passages ``sources`` ship."""
    if corpus is not None:
        return make_retriever(spec, corpus)
    if len(sources) == 1 and isinstance(sources[0], SyntheticSource):
        world = sources[0].world
        return synthetic_retriever(world.passages, world.seed, world.test_fraction, spec)
    documents: list[Iterable[tuple[str, str, str]]] = []
    for source in sources:
        if isinstance(source, CorpusSource):
            documents.append(source.documents())
    try:
        return make_retriever(spec, itertools.chain.from_iterable(documents))
    except RetrieverError:
        names = ", ".join(s.name for s in sources)
        raise RetrieverError(f"source(s) {names} ship no passages: {_NAME_A_CORPUS}") from None


_NAME_A_CORPUS = "name a JSONL corpus with --corpus PATH (corpus=PATH in gym.make, corpus: in a config)"
_LOCAL_SOURCES = ("synthetic:", "file:")  # specs a task file can name that resolve without a network


def _named_corpora(tasks: Sequence[Task]) -> list[CorpusSource] | None:
    """The corpora the objectives' ``source`` specs name, when every one resolves locally to a corpus."""
    names = {o.source for t in tasks for o in t.objectives}
    if not names or not all(name.startswith(_LOCAL_SOURCES) for name in names):
        return None
    try:
        sources = [load_source(name) for name in sorted(names)]
    except SourceError:
        return None
    corpora = [s for s in sources if isinstance(s, CorpusSource)]
    return corpora if len(corpora) == len(sources) else None


def retriever_for_tasks(spec: str, tasks: Sequence[Task], corpus: str | Path | None) -> Retriever:
    """A ``spec`` retriever over ``corpus``, else the corpus the tasks name (``envkit compose --corpus``),
    else the one their objectives' ``source`` specs ship.

    Task files written before objectives named their world as a spec (``source:
    "synthetic"``) are resolved from the world key in their objective ids.
    """
    named = {t.corpus for t in tasks if t.corpus is not None}
    if corpus is None and len(named) > 1:
        raise RetrieverError(f"the tasks name {len(named)} different corpora: {_NAME_A_CORPUS}")
    if corpus is None and named:
        corpus = named.pop()
    if corpus is not None:
        return make_retriever(spec, corpus)
    corpora = _named_corpora(tasks)
    if corpora is not None:
        return retriever_for_sources(spec, corpora, None)
    worlds = {parse_world_key(o.id) for t in tasks for o in t.objectives}
    if len(worlds) == 1 and None not in worlds:
        seed, passages, test_fraction = worlds.pop() or (0, 0, 0.0)  # not None: checked above
        return synthetic_retriever(passages, seed, test_fraction, spec)
    raise RetrieverError(f"the tasks' sources ship no corpus envkit can open here: {_NAME_A_CORPUS}")


def make_qa_env(
    n_objectives: int = 2,
    source: str | QASource | Sequence[str | QASource] = DEFAULT_SOURCE,
    strategy: str = "parallel",
    split: str = "train",
    seed: int = 0,
    count: int = 100_000,
    task_file: str | Path | None = None,
    **options: Any,
) -> gym.Env[str, str]:
    """Build the multi-objective QA env with its protocol wrappers.

    ``source``/``strategy``/``n_objectives``/``split``/``seed``/``count`` compose tasks
    on the fly (see :func:`composers.compose`); ``task_file`` loads composed tasks
    instead. ``options``: ``retriever`` (a spec or a :class:`Retriever`) and ``corpus``
    (a JSONL path; default: the passages the sources ship, or the synthetic world the
    task file's questions come from); ``context`` (the context builder),
    ``format_penalty``, ``token_counter`` and ``tags``; and what
    :class:`MultiObjectiveQAEnv` takes (``top_k``, ``max_turns``, ``metric``,
    ``reward``, ``render_mode``...).
    """
    from envkit.envs.from_tasks import make_composed_env

    return make_composed_env(source, n_objectives, strategy, split, seed, count, task_file=task_file, **options)
