"""Benchmark suites: named sets of composed task files with a manifest.

A suite is a folder of task files plus ``suite.json``: format, preset, version, seed,
the sources' content hashes, and each file's split, strategy, N, count and SHA-256.
Generation is deterministic (no timestamps, sorted keys, byte-identical task files),
so regenerating a preset reproduces every byte, and :func:`verify_suite` can tell
whether a suite on disk is the one its manifest describes.

Presets follow MEM1's protocol: train on N = 2, evaluate on the test split for N from
1 up to beyond the training horizon. ``webshop`` holds shop goals (one purchase per
episode, as WebShop); ``mixed`` holds tasks of questions and purchases together.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from composers.atomic import atomic_folder
from composers.checksums import file_sha256
from composers.compose import compose
from composers.sources.base import SourceError
from composers.sources.registry import load_source

__all__ = [
    "MANIFEST",
    "PRESETS",
    "SuitePart",
    "SuitePreset",
    "generate_suite",
    "manifest_digest",
    "read_manifest",
    "verify_suite",
]

MANIFEST = "suite.json"
FORMAT = "envkit.suite/3"
# /1: one source under "source"; /2: "sources", a list; /3: a "digest" of the manifest itself
_READABLE = ("envkit.suite/1", "envkit.suite/2", FORMAT)


@dataclass(frozen=True, slots=True)
class SuitePart:
    """One task file of a suite (``counts``: per-source counts of a ``mixed`` part)."""

    split: str
    strategy: str
    n_objectives: int
    count: int
    counts: tuple[int, ...] | None = None

    @property
    def filename(self) -> str:
        return f"{self.split}_{self.strategy}_n{self.n_objectives}.jsonl"


@dataclass(frozen=True, slots=True)
class SuitePreset:
    """A named suite: its sources and the task files composed from them."""

    name: str
    description: str
    sources: tuple[str, ...]
    parts: tuple[SuitePart, ...]
    version: int = 1


def _qa_parts(strategy: str, eval_ns: tuple[int, ...], train: int = 5000, test: int = 200) -> tuple[SuitePart, ...]:
    return (SuitePart("train", strategy, 2, train), *(SuitePart("test", strategy, n, test) for n in eval_ns))


PRESETS: dict[str, SuitePreset] = {
    preset.name: preset
    for preset in (
        SuitePreset(
            "mem1-qa",
            "MEM1's multi-objective QA: train N=2; test N=1, 2, 4, 8, 16 and the beyond-horizon 32 (parallel).",
            ("synthetic:passages=100000,seed=0",),
            _qa_parts("parallel", (1, 2, 4, 8, 16, 32)),
        ),
        SuitePreset(
            "mem1-qa-long",
            "Horizons far past MEM1's: train N=2; test N=32, 64 and 128 (parallel), 100 tasks each.",
            ("synthetic:passages=100000,seed=0",),
            _qa_parts("parallel", (32, 64, 128), test=100),
        ),
        SuitePreset(
            "chained-qa",
            "Interdependent objectives (objective k+1 needs answer k): train N=2; test N=2, 4, 8, 16.",
            ("synthetic:passages=100000,seed=0",),
            _qa_parts("chained", (2, 4, 8, 16)),
        ),
        SuitePreset(
            "webshop",
            "WebShop goals on the bundled 10k-product catalog: one purchase per episode; train and test goals.",
            ("shop:products=10000,seed=0",),
            (SuitePart("train", "parallel", 1, 5000), SuitePart("test", "parallel", 1, 500)),
        ),
        SuitePreset(
            "mixed",
            "Questions and purchases in one episode: train 2 questions + 1 purchase; test 2+1, 4+1, 8+2, 16+2.",
            ("synthetic:passages=100000,seed=0", "shop:products=10000,seed=0"),
            (
                SuitePart("train", "mixed", 3, 5000, (2, 1)),
                *(SuitePart("test", "mixed", q + g, 200, (q, g)) for q, g in ((2, 1), (4, 1), (8, 2), (16, 2))),
            ),
        ),
    )
}


def _source_hash(spec: str, splits: set[str]) -> str:
    """A digest of the questions a source offers for the splits a suite uses."""
    source = load_source(spec)
    digest = hashlib.sha256(spec.encode())
    for split in sorted(splits):
        for objective in source.questions(split):
            digest.update(json.dumps(objective.to_dict(), sort_keys=True).encode())
    return digest.hexdigest()


def generate_suite(
    preset: str | SuitePreset,
    folder: str | Path,
    seed: int = 0,
    scale: float = 1.0,
    on_part: Callable[[SuitePart], None] | None = None,
    sources: tuple[str, ...] | None = None,
    corpus: str | Path | None = None,
) -> dict[str, Any]:
    """Write the suite ``preset`` into the new folder ``folder``; returns its manifest.

    ``scale`` multiplies every part's task count (e.g. 0.1 for a quick look); the
    manifest records it. ``sources`` replaces the preset's sources, one for one (MEM1's
    protocol on NQ: ``mem1-qa`` with ``file:train=nq_train.jsonl,test=nq_test.jsonl``);
    ``corpus`` is recorded in the manifest, so ``envkit eval --suite`` searches it
    without being told. The folder is written beside its destination and renamed into
    place, so a failed generation leaves nothing behind.
    """
    if isinstance(preset, str):
        if preset not in PRESETS:
            raise SourceError(f"unknown suite preset {preset!r} (use {', '.join(PRESETS)})")
        preset = PRESETS[preset]
    if sources is not None:
        if len(sources) != len(preset.sources):
            raise SourceError(f"preset {preset.name} composes {len(preset.sources)} source(s), got {len(sources)}")
        preset = dataclasses.replace(preset, sources=tuple(sources))
    if corpus is not None and not Path(corpus).is_file():
        raise SourceError(f"{corpus}: no such corpus file")
    if scale <= 0:
        raise SourceError(f"scale must be positive, got {scale}")
    folder = Path(folder)
    if folder.exists():
        raise SourceError(f"{folder} already exists: choose a new folder")
    with atomic_folder(folder) as staging:
        loaded = [load_source(spec) for spec in preset.sources]
        files = []
        for part in preset.parts:
            count = max(1, round(part.count * scale))
            chosen = loaded if part.strategy == "mixed" else loaded[0]
            tasks = compose(chosen, part.strategy, part.n_objectives, count, part.split, seed, counts=part.counts)
            tasks.write(staging / part.filename)
            files.append(
                {
                    "path": part.filename,
                    "split": part.split,
                    "strategy": part.strategy,
                    "n_objectives": part.n_objectives,
                    "count": count,
                    "sha256": file_sha256(staging / part.filename),
                }
            )
            if on_part is not None:
                on_part(part)
        manifest = {
            "format": FORMAT,
            "preset": preset.name,
            "description": preset.description,
            "version": preset.version,
            "seed": seed,
            "scale": scale,
            "sources": [
                {"spec": spec, "sha256": _source_hash(spec, {p.split for p in preset.parts})} for spec in preset.sources
            ],
            "files": files,
        }
        if corpus is not None:
            manifest["corpus"] = str(Path(corpus).resolve())
        manifest["digest"] = manifest_digest(manifest)
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def manifest_digest(manifest: dict[str, Any]) -> str:
    """The sha256 of the manifest without its ``digest`` field, in a canonical JSON form.

    The files' checksums live in the manifest, so the manifest needs one of its own: a
    flipped ``n_objectives`` or ``count`` would otherwise pass ``verify_suite``.
    """
    body = {key: value for key, value in manifest.items() if key != "digest"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """The manifest of a suite folder (errors name the file)."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise SourceError(f"{folder}: not a suite (no {MANIFEST}); generate one with 'envkit suite generate'")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise SourceError(f"{path}:{error.lineno}: invalid JSON ({error.msg})") from None
    if not isinstance(manifest, dict) or manifest.get("format") not in _READABLE:
        raise SourceError(f"{path}: unsupported suite format (expected {FORMAT!r})")
    if "source" in manifest:  # format /1
        manifest["sources"] = [manifest.pop("source")]
    _check_keys(path, manifest)
    return manifest


_MANIFEST_KEYS = ("preset", "version", "seed", "scale", "sources", "files")
_SOURCE_KEYS = ("spec", "sha256")
_FILE_KEYS = ("path", "split", "strategy", "n_objectives", "count", "sha256")


def _check_keys(path: Path, manifest: dict[str, Any]) -> None:
    """Every field the tools read, present and of the right shape (a hand edit is a line naming it)."""
    for key in _MANIFEST_KEYS:
        if key not in manifest:
            raise SourceError(f"{path}: the manifest has no {key!r} field")
    for group, keys in (("sources", _SOURCE_KEYS), ("files", _FILE_KEYS)):
        entries = manifest[group]
        if not isinstance(entries, list):
            raise SourceError(f"{path}: {group!r} must be a list")
        for index, entry in enumerate(entries):
            missing = [k for k in keys if not isinstance(entry, dict) or k not in entry]
            if missing:
                raise SourceError(f"{path}: {group}[{index}] has no {missing[0]!r} field")


def verify_suite(folder: str | Path) -> list[str]:
    """Problems found when checking the suite's files against its manifest (empty: intact)."""
    folder = Path(folder)
    problems = []
    manifest = read_manifest(folder)
    if manifest["format"] == FORMAT and manifest.get("digest") != manifest_digest(manifest):
        problems.append(f"{MANIFEST}: content differs from its digest (edited by hand?)")
    for entry in manifest.get("files", []):
        if Path(entry["path"]).name != entry["path"]:
            problems.append(f"{entry['path']}: not a file name inside the suite folder")
            continue
        path = folder / entry["path"]
        if not path.is_file():
            problems.append(f"{entry['path']}: missing")
        elif file_sha256(path) != entry["sha256"]:
            problems.append(f"{entry['path']}: content differs from the manifest (sha256)")
    return problems
