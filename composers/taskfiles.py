"""Write and read task files: JSONL (one task per line) or Parquet, atomically.

Writes are deterministic (same tasks give byte-identical files: sorted keys, fixed
separators, no timestamps) and atomic (a temporary file renamed into place), so an
interrupted write never leaves a half-written suite behind. Reads stream and name the
file and line of any record that does not follow ``envkit.task/1``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from composers.atomic import atomic_file
from composers.records import SCHEMA, RecordError, Task
from composers.sources.base import SourceError

__all__ = ["FORMATS", "read_tasks", "task_format", "write_tasks"]

FORMATS = ("jsonl", "parquet")
_PARQUET_BATCH = 2048


def task_format(path: str | Path, fmt: str | None = None) -> str:
    """The file format for ``path``: explicit ``fmt``, else from the suffix."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown task file format {fmt!r} (use {' or '.join(FORMATS)})")
        return fmt
    suffix = Path(path).suffix.lstrip(".")
    if suffix not in FORMATS:
        raise ValueError(f"cannot tell the format of {path}: use a .jsonl or .parquet name, or give a format")
    return suffix


def _json_line(task: Task) -> str:
    return json.dumps(task.to_dict(), ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"


def _parquet_schema() -> Any:
    import pyarrow as pa

    objective = pa.struct(
        [
            ("id", pa.string()),
            ("kind", pa.string()),
            ("question", pa.string()),
            ("golden_answers", pa.list_(pa.string())),
            ("source", pa.string()),
            ("supporting_ids", pa.list_(pa.string())),
            ("queries", pa.list_(pa.string())),
            ("depends_on", pa.int32()),
        ]
    )
    fields = [
        ("schema", pa.string()),
        ("id", pa.string()),
        ("strategy", pa.string()),
        ("split", pa.string()),
        ("seed", pa.int64()),
        ("sources", pa.list_(pa.string())),
        ("n_objectives", pa.int32()),
        ("objectives", pa.list_(objective)),
        ("corpus", pa.string()),
    ]
    return pa.schema(fields, metadata={b"envkit.schema": SCHEMA.encode()})


def write_tasks(tasks: Iterable[Task], path: str | Path, fmt: str | None = None) -> int:
    """Write ``tasks`` to ``path`` atomically; returns the number written."""
    path = Path(path)
    fmt = task_format(path, fmt)
    count = 0
    if fmt == "jsonl":
        with atomic_file(path, "w") as handle:
            for task in tasks:
                handle.write(_json_line(task))
                count += 1
        return count
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = _parquet_schema()
    with atomic_file(path, "wb") as handle, pq.ParquetWriter(handle, schema) as writer:
        batch: list[dict[str, Any]] = []
        for task in tasks:
            batch.append(task.to_dict())
            count += 1
            if len(batch) == _PARQUET_BATCH:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                batch.clear()
        if batch or count == 0:
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
    return count


def read_tasks(path: str | Path, fmt: str | None = None) -> Iterator[Task]:
    """Stream the tasks of a task file, naming file and line of any bad record."""
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"{path}: no such task file")
    try:
        fmt = task_format(path, fmt)
    except ValueError as error:
        raise SourceError(str(error)) from None
    yield from _read_jsonl(path) if fmt == "jsonl" else _read_parquet(path)


def _read_jsonl(path: Path) -> Iterator[Task]:
    with path.open("rb") as handle:  # bytes, so a line that is not UTF-8 is named, not a bare codec error
        for lineno, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise SourceError(f"{path}:{lineno}: not UTF-8 text (byte {error.start + 1} of the line)") from None
            if not line.strip():
                continue
            try:
                yield Task.from_dict(json.loads(line))
            except json.JSONDecodeError as error:
                raise SourceError(f"{path}:{lineno}: invalid JSON ({error.msg} at column {error.colno})") from None
            except (RecordError, AttributeError, TypeError) as error:
                raise SourceError(f"{path}:{lineno}: {error}") from None


def _read_parquet(path: Path) -> Iterator[Task]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception as error:  # pyarrow raises several types for corrupt files
        raise SourceError(f"{path}: not a readable Parquet file ({error})") from None
    row = 0
    for batch in parquet.iter_batches(batch_size=_PARQUET_BATCH):
        for record in batch.to_pylist():
            try:
                yield Task.from_dict(record)
            except (RecordError, AttributeError, TypeError) as error:
                raise SourceError(f"{path}: row {row}: {error}") from None
            row += 1
