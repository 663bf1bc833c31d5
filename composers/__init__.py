"""composers: turn QA sources into N-objective tasks.

Data flows one way: a source (the bundled synthetic world, a Hugging Face data set,
local files) gives questions per split; a strategy (parallel, chained, mixed) groups
them into :class:`Task` records; :func:`compose` wraps both and returns a lazy
:class:`TaskSet` that writes JSONL/Parquet files or a ``datasets.Dataset``.
"""

from composers.compose import STRATEGY_TABLE, TaskSet, compose
from composers.records import Objective, RecordError, Task
from composers.sources.base import SourceError, SourceUnavailable
from composers.sources.registry import load_source
from composers.sources.synthetic import SyntheticSource, SyntheticWorld
from composers.taskfiles import read_tasks, write_tasks

__all__ = [
    "STRATEGY_TABLE",
    "Objective",
    "RecordError",
    "SourceError",
    "SourceUnavailable",
    "SyntheticSource",
    "SyntheticWorld",
    "Task",
    "TaskSet",
    "compose",
    "load_source",
    "read_tasks",
    "write_tasks",
]
