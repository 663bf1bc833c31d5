"""``gym.make("envkit/MultiObjectiveQA-v0", ...)``: sources, tasks, retriever, wrappers.

Tasks come either from a composer (``source`` + ``strategy`` + ``n_objectives``) or
from a composed task file (``task_file``). The retriever is a
:class:`~envkit.retrieval.base.Retriever` object or a spec (``"bm25"``) over a corpus:
``corpus`` (a JSONL path) when given, else the passages the sources ship (the
synthetic world, HotpotQA contexts). For a task file of synthetic tasks the world is
rebuilt from the objective ids, so no corpus needs to be named.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from pathlib import Path

import gymnasium as gym

from composers.compose import compose
from composers.records import Task
from composers.sources.base import CorpusSource, QASource
from composers.sources.registry import load_source
from composers.sources.synthetic import SyntheticSource
from composers.sources.synthetic.questions import parse_world_key
from composers.taskfiles import read_tasks
from envkit.envs.qa import MultiObjectiveQAEnv
from envkit.envs.wrappers import with_protocol
from envkit.protocol.context import ContextBuilder
from envkit.protocol.tags import QA_TAGS, TagSet
from envkit.protocol.tokens import TokenCounter, count_word_pieces
from envkit.retrieval.base import Retriever, RetrieverError
from envkit.retrieval.factory import make_retriever, needs_documents, open_retriever, synthetic_retriever

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
        raise RetrieverError(f"source(s) {names} ship no passages: pass corpus=PATH (a JSONL corpus)") from None


def retriever_for_tasks(spec: str, tasks: Sequence[Task], corpus: str | Path | None) -> Retriever:
    """A ``spec`` retriever over ``corpus``, else over the synthetic world the tasks' questions come from."""
    if corpus is not None:
        return make_retriever(spec, corpus)
    worlds = {parse_world_key(o.id) for t in tasks for o in t.objectives}
    if len(worlds) == 1 and None not in worlds:
        seed, passages, test_fraction = worlds.pop()  # type: ignore[misc]
        return synthetic_retriever(passages, seed, test_fraction, spec)
    raise RetrieverError("the task file is not from one synthetic world: pass corpus=PATH (a JSONL corpus)")


def make_qa_env(
    n_objectives: int = 2,
    source: str | QASource | Sequence[str | QASource] = DEFAULT_SOURCE,
    strategy: str = "parallel",
    split: str = "train",
    seed: int = 0,
    count: int = 100_000,
    task_file: str | Path | None = None,
    retriever: str | Retriever = "bm25",
    corpus: str | Path | None = None,
    top_k: int = 3,
    max_turns: int | None = None,
    metric: str = "em",
    reward: str = "mean",
    context: str | ContextBuilder = "consolidated",
    format_penalty: float = 0.0,
    token_counter: TokenCounter = count_word_pieces,
    tags: TagSet = QA_TAGS,
    render_mode: str | None = None,
) -> gym.Env[str, str]:
    """Build the multi-objective QA env with its protocol wrappers.

    ``source``/``strategy``/``n_objectives``/``split``/``seed``/``count`` compose tasks
    on the fly (see :func:`composers.compose`); ``task_file`` loads composed tasks
    instead. ``context`` picks the context builder, ``format_penalty`` the penalty per
    protocol violation. Everything else is passed to :class:`MultiObjectiveQAEnv`.
    """
    tasks: Sequence[Task]
    # a retriever object, an index folder or a server is used as it is; a corpus spec indexes the tasks' passages
    search = retriever if not isinstance(retriever, str) or needs_documents(retriever) else open_retriever(retriever)
    if task_file is not None:
        tasks = list(read_tasks(task_file))
        if not tasks:
            raise ValueError(f"{task_file}: the task file holds no tasks")
        if isinstance(search, str):
            search = retriever_for_tasks(search, tasks, corpus)
    else:
        specs = [source] if isinstance(source, (str, QASource)) else list(source)
        sources = [load_source(s, split) for s in specs]
        tasks = compose(sources, strategy, n_objectives, count, split, seed)
        if isinstance(search, str):
            search = retriever_for_sources(search, sources, corpus)
    env: gym.Env[str, str] = MultiObjectiveQAEnv(
        tasks,
        search,
        top_k=top_k,
        max_turns=max_turns,
        metric=metric,
        reward=reward,
        tags=tags,
        render_mode=render_mode,
    )
    return with_protocol(env, context, format_penalty, token_counter)
