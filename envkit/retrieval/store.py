"""Index folders: build once with ``envkit index build``, open anywhere with :func:`load_index`.

An index folder holds ``envkit-index.json`` (format, back-end, passage count, build
parameters), the back-end's files, and, for back-ends that do not store text
themselves, the passages in ``corpus.parquet``. A build writes into a temporary
sibling folder and renames it into place, so a failed build leaves nothing behind
and an existing index is never overwritten.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from composers.atomic import atomic_file, atomic_folder
from composers.checksums import file_sha256
from envkit.cache import envkit_cache
from envkit.retrieval.base import Retriever, RetrieverError
from envkit.retrieval.corpus import Corpus

__all__ = [
    "INDEX_BACKENDS",
    "MANIFEST",
    "BuildOptions",
    "IndexBackend",
    "build_index",
    "load_index",
    "register_index_backend",
    "verify_index",
]

MANIFEST = "envkit-index.json"
FORMAT = "envkit.index/1"
CORPUS_FILE = "corpus.parquet"


def _save_corpus(corpus: Corpus, folder: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"id": corpus.ids, "title": corpus.titles, "text": corpus.texts})
    pq.write_table(table, folder / CORPUS_FILE)


def _load_corpus(folder: Path) -> Corpus:
    import pyarrow.parquet as pq

    table = pq.read_table(folder / CORPUS_FILE, memory_map=True)
    return Corpus(table.column("id").to_pylist(), table.column("title").to_pylist(), table.column("text").to_pylist())


@dataclass(frozen=True, slots=True)
class BuildOptions:
    """What a back-end may be asked at build time (each back-end reads what it needs)."""

    dense_model: str | None = None
    dense_kind: str = "flat"
    query_prefix: str = ""
    passage_prefix: str = ""
    threads: int = 2
    progress: Callable[[int], None] | None = None


@dataclass(frozen=True, slots=True)
class IndexBackend:
    """How one back-end writes an index folder and opens it again.

    ``build(corpus, folder, options)`` writes the back-end's files and returns the
    parameters to record in the manifest; ``load(folder, params, jit)`` opens them.
    ``stores_text``: the back-end keeps the passages itself (else ``corpus.parquet`` does).
    """

    build: Callable[[Corpus, Path, BuildOptions], dict[str, Any]]
    load: Callable[[Path, dict[str, Any], bool], Retriever]
    stores_text: bool = False


def _build_bm25(corpus: Corpus, folder: Path, options: BuildOptions) -> dict[str, Any]:
    from envkit.retrieval.bm25 import BM25Retriever

    retriever = BM25Retriever(corpus)
    retriever.save(folder)
    return dict(retriever.params)


def _load_bm25(folder: Path, params: dict[str, Any], jit: bool) -> Retriever:
    from envkit.retrieval.bm25 import BM25Retriever

    return BM25Retriever.load(folder, _load_corpus(folder), params, jit=jit)


def _build_lucene(corpus: Corpus, folder: Path, options: BuildOptions) -> dict[str, Any]:
    from envkit.retrieval.lucene import build_lucene_index

    build_lucene_index(corpus, folder / "lucene", threads=options.threads)
    return {}


def _load_lucene(folder: Path, params: dict[str, Any], jit: bool) -> Retriever:
    from envkit.retrieval.lucene import LuceneRetriever

    return LuceneRetriever(folder / "lucene")


def _build_dense(corpus: Corpus, folder: Path, options: BuildOptions) -> dict[str, Any]:
    from envkit.retrieval.dense import DenseRetriever, SentenceEncoder

    encoder = SentenceEncoder(options.dense_model, options.query_prefix, options.passage_prefix)
    DenseRetriever.build(corpus, encoder, options.dense_kind, progress=options.progress).save(folder)
    return {
        "model": encoder.model_name if options.dense_model else None,
        "kind": options.dense_kind,
        "query_prefix": options.query_prefix,
        "passage_prefix": options.passage_prefix,
        "dimension": encoder.dimension,
    }


def _load_dense(folder: Path, params: dict[str, Any], jit: bool) -> Retriever:
    from envkit.retrieval.dense import DenseRetriever, SentenceEncoder

    encoder = SentenceEncoder(params.get("model"), params.get("query_prefix", ""), params.get("passage_prefix", ""))
    return DenseRetriever.load(folder, _load_corpus(folder), encoder)


INDEX_BACKENDS: dict[str, IndexBackend] = {
    "bm25": IndexBackend(_build_bm25, _load_bm25),
    "lucene": IndexBackend(_build_lucene, _load_lucene, stores_text=True),
    "dense": IndexBackend(_build_dense, _load_dense),
}
"""The index back-ends by name; :func:`register_index_backend` adds one."""


def register_index_backend(name: str, backend: IndexBackend) -> None:
    """Make ``envkit index build --backend NAME`` and :func:`load_index` know another back-end."""
    INDEX_BACKENDS[name] = backend


def build_index(
    backend: str,
    corpus: Corpus,
    folder: str | Path,
    *,
    dense_model: str | None = None,
    dense_kind: str = "flat",
    query_prefix: str = "",
    passage_prefix: str = "",
    threads: int = 2,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Build a ``backend`` index of ``corpus`` into the new folder ``folder``."""
    row = INDEX_BACKENDS.get(backend)
    if row is None:
        raise RetrieverError(f"unknown index back-end {backend!r} (use {', '.join(INDEX_BACKENDS)})")
    folder = Path(folder)
    if folder.exists():
        raise RetrieverError(f"{folder} already exists: refusing to overwrite an index")
    options = BuildOptions(dense_model, dense_kind, query_prefix, passage_prefix, threads, progress)
    with atomic_folder(folder) as staging:
        params = row.build(corpus, staging, options)
        if not row.stores_text:
            _save_corpus(corpus, staging)
        manifest = {"format": FORMAT, "backend": backend, "passages": len(corpus), "params": params}
        manifest["files"] = {name: {"bytes": size, "sha256": digest} for name, size, digest in _index_files(staging)}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return folder


def load_index(folder: str | Path, jit: bool = False) -> Retriever:
    """Open an index folder written by :func:`build_index` (any back-end)."""
    folder = Path(folder)
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise RetrieverError(f"{folder}: not an envkit index (no {MANIFEST}); build one with 'envkit index build'")
    try:
        manifest = json.loads(manifest_path.read_text())
    except json.JSONDecodeError as error:
        raise RetrieverError(f"{manifest_path}: invalid JSON ({error.msg})") from None
    if manifest.get("format") != FORMAT:
        raise RetrieverError(f"{manifest_path}: unsupported index format {manifest.get('format')!r}")
    _check_sizes(folder, manifest)
    _check_content_once(folder, manifest)
    backend, params = manifest.get("backend"), manifest.get("params") or {}
    row = INDEX_BACKENDS.get(str(backend))
    if row is None:
        raise RetrieverError(f"{manifest_path}: unknown back-end {backend!r}")
    return row.load(folder, params, jit)


def _index_files(folder: Path, content: bool = True) -> list[tuple[str, int, str]]:
    """``(path relative to folder, bytes, sha256)`` of every file of an index but its manifest."""
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST):
        digest = ""
        if content:
            digest = file_sha256(path)
        found.append((path.relative_to(folder).as_posix(), path.stat().st_size, digest))
    return found


def _check_sizes(folder: Path, manifest: dict[str, Any]) -> None:
    """Every file the manifest lists is there with its size (cheap: done on every load)."""
    for name, entry in (manifest.get("files") or {}).items():
        path = folder / name
        if not path.is_file():
            raise RetrieverError(f"{path}: missing from the index (listed in {MANIFEST})")
        size, expected = path.stat().st_size, entry.get("bytes")
        if size != expected:
            raise RetrieverError(f"{path}: {size} bytes where the manifest says {expected}: the index is corrupt")


def _check_content_once(folder: Path, manifest: dict[str, Any]) -> None:
    """Every listed file's content matches its sha256; hashed once, then again only when a size or mtime changes.

    A flipped bit in a posting file kept its size: loading it gave other passages without
    a word, and the numba scorer could crash the process. The check runs before any
    back-end reads a file; a stamp in ``$ENVKIT_CACHE/index-checks`` (keyed on the folder,
    each file's size and mtime, and the manifest's) spares later loads the hashing.
    """
    listed = manifest.get("files") or {}
    if not listed:  # built before manifests listed files: nothing to check against
        return
    where = str(folder.resolve())
    seen = {name: _size_and_mtime(folder / name) for name in [*listed, MANIFEST]}
    stamp = envkit_cache() / "index-checks" / f"{hashlib.sha256(where.encode()).hexdigest()[:32]}.json"
    try:
        if json.loads(stamp.read_text()) == {"folder": where, "files": seen}:
            return
    except (OSError, ValueError):
        pass
    for name, entry in listed.items():
        if file_sha256(folder / name) != entry.get("sha256"):
            raise RetrieverError(
                f"{folder / name}: content differs from {MANIFEST} (sha256): the index is corrupt; rebuild it"
            )
    try:
        with atomic_file(stamp, "w") as handle:
            json.dump({"folder": where, "files": seen}, handle)
    except OSError:  # a read-only cache: the next load hashes again
        pass


def _size_and_mtime(path: Path) -> list[int]:
    status = path.stat()
    return [status.st_size, status.st_mtime_ns]


def verify_index(folder: str | Path) -> list[str]:
    """Problems found checking every file's content against the manifest (empty: intact).

    An index written before manifests listed files (format ``envkit.index/1`` without
    ``files``) has nothing to check against and is reported as such.
    """
    folder = Path(folder)
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise RetrieverError(f"{folder}: not an envkit index (no {MANIFEST})")
    try:
        listed = json.loads(manifest_path.read_text()).get("files")
    except (json.JSONDecodeError, AttributeError) as error:
        raise RetrieverError(f"{manifest_path}: not a readable manifest ({error})") from None
    if not listed:
        return [f"{manifest_path}: lists no files to check (built before envkit recorded checksums)"]
    problems = []
    present = {name: (size, digest) for name, size, digest in _index_files(folder)}
    for name, entry in listed.items():
        if name not in present:
            problems.append(f"{folder / name}: missing")
        elif present[name] != (entry.get("bytes"), entry.get("sha256")):
            problems.append(f"{folder / name}: content differs from the manifest (sha256)")
    problems.extend(f"{folder / name}: not listed in the manifest" for name in sorted(set(present) - set(listed)))
    return problems
