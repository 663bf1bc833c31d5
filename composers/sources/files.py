"""QA sets from local JSONL, JSON or Parquet files, with errors that name file and line."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from composers.sources.base import SourceError
from composers.sources.records_source import LocatedRecord, RecordsSource
from composers.sources.schemas import question_key

__all__ = ["FileSource", "read_records"]

SUFFIXES = (".jsonl", ".json", ".parquet")


def _read_jsonl(path: Path) -> Iterator[LocatedRecord]:
    with path.open("r", encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise SourceError(f"{path}:{lineno}: invalid JSON ({error.msg} at column {error.colno})") from None
            yield f"{path}:{lineno}", record


def _read_json(path: Path) -> Iterator[LocatedRecord]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise SourceError(f"{path}:{error.lineno}: invalid JSON ({error.msg})") from None
    if isinstance(data, Mapping) and isinstance(data.get("data"), list):
        data = data["data"]
    if not isinstance(data, list):
        raise SourceError(f"{path}: expected a JSON array of records (or {{'data': [...]}})")
    for index, record in enumerate(data):
        yield f"{path}: record {index}", record


def _read_parquet(path: Path) -> Iterator[LocatedRecord]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception as error:  # pyarrow raises several types for corrupt files
        raise SourceError(f"{path}: not a readable Parquet file ({error})") from None
    row = 0
    for batch in parquet.iter_batches(batch_size=4096):
        for record in batch.to_pylist():
            yield f"{path}: row {row}", record
            row += 1


def read_records(path: str | Path) -> Iterator[LocatedRecord]:
    """Records of a ``.jsonl``, ``.json`` or ``.parquet`` file, streamed where the format allows."""
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"{path}: no such file")
    try:
        if path.suffix == ".jsonl":
            yield from _read_jsonl(path)
        elif path.suffix == ".json":
            yield from _read_json(path)
        elif path.suffix == ".parquet":
            yield from _read_parquet(path)
        else:
            raise SourceError(f"{path}: unsupported file type {path.suffix!r} (use {', '.join(SUFFIXES)})")
    except UnicodeDecodeError as error:
        raise SourceError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None


def _spec_of(files: Mapping[str, Sequence[Path]]) -> str | None:
    """``file:PATH`` (a split key of ``""``) or ``file:split=PATH,...`` with absolute paths; ``None`` if none fits."""
    if any(len(paths) != 1 for paths in files.values()):
        return None
    located = {split: str(paths[0].resolve()) for split, paths in files.items()}
    if any("," in path or "=" in path for path in located.values()):
        return None
    return "file:" + ",".join(f"{split}={path}" if split else path for split, path in located.items())


class FileSource(RecordsSource):
    """A QA source over local files, one file (or several) per split.

    Args:
        files: split name to file path(s), e.g. ``{"train": "nq_train.jsonl", "test": "nq_test.jsonl"}``.
        name: source name, the prefix of its question ids (default: the first file's stem).

    Each question's ``source`` is the spec that opens these files again
    (``file:train=/abs/a.jsonl,test=/abs/b.jsonl``), so a task file composed from them names
    where its questions, and the passages they bring (HotpotQA's ``context``), come from,
    and replays from any folder. Files no spec can name (several per split, a ``,`` or
    ``=`` in a path) are named by ``name``.

    :meth:`holdout` makes one file serve both splits, disjointly.

    """

    @classmethod
    def holdout(cls, path: str | Path, test_fraction: float = 0.1, name: str | None = None) -> FileSource:
        """One file split into ``train`` and ``test`` by a hash of each question's text.

        The split is reproducible (the same question always falls on the same side,
        whatever the file's order or the machine) and disjoint, so a bare ``file:PATH``
        never serves the same question to training and to evaluation.
        """
        if not 0.0 < test_fraction < 1.0:
            raise SourceError(f"test_fraction must be in (0, 1), got {test_fraction}")
        source = cls({"train": path, "test": path}, name)
        source.spec = _spec_of({"": [Path(path)]}) or source.name
        source._test_fraction = test_fraction
        return source

    def __init__(self, files: Mapping[str, str | Path | Sequence[str | Path]], name: str | None = None) -> None:
        self._test_fraction: float | None = None
        if not files:
            raise SourceError("a file source needs at least one split file")
        self._files: dict[str, list[Path]] = {}
        for split, paths in files.items():
            listed = [paths] if isinstance(paths, (str, Path)) else list(paths)
            self._files[split] = [Path(p) for p in listed]
            for path in self._files[split]:
                if not path.is_file():
                    raise SourceError(f"{path}: no such file")
        first = next(iter(self._files.values()))[0]
        stem = name or first.name.split(".")[0]
        super().__init__(stem, _spec_of(self._files) or stem)

    @property
    def holdout_fraction(self) -> float | None:
        """The fraction of questions a single file holds out for ``test`` (:meth:`holdout`); None for named splits."""
        return self._test_fraction

    def splits(self) -> Sequence[str]:
        return tuple(self._files)

    def read_split(self, split: str) -> Iterator[LocatedRecord]:
        for path in self._files[split]:
            for location, record in read_records(path):
                if self._test_fraction is None or self._side(record) == split:
                    yield location, record

    def _side(self, record: Any) -> str:
        question = record.get("question") if isinstance(record, dict) else None
        digest = hashlib.sha256(question_key(str(question or "")).encode()).digest()
        return "test" if int.from_bytes(digest[:8], "big") / 2**64 < (self._test_fraction or 0.0) else "train"

    def __repr__(self) -> str:
        return f"FileSource({ {k: [str(p) for p in v] for k, v in self._files.items()} }, name={self.name!r})"
