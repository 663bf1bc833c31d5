"""Atomic writes: a file or folder appears whole at its path, or not at all.

Both helpers stage the new content beside its destination (same filesystem) and
rename it into place only when writing succeeded, so an interrupted or failed write
leaves neither a half-written result nor a stray staging file behind. Results get the
permissions the umask gives any new file (``mkstemp`` alone makes them private, so
suites and indexes could not be shared on a cluster). A staging name carries its
writer's process id: a writer killed outright (SIGKILL) leaves one behind, and the next
write beside it removes it once that process is gone.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_file", "atomic_folder"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def _remove_stale(parent: Path, name: str, suffix: str) -> None:
    """Staging entries of ``name`` left by writers that no longer run."""
    for stale in parent.glob(f".{name}.*{suffix}"):
        pid = stale.name[len(name) + 2 :].split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
            else:
                stale.unlink(missing_ok=True)


@contextmanager
def atomic_file(path: Path, mode: str) -> Iterator[IO[Any]]:
    """An open handle whose content replaces ``path`` when the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(path.parent, path.name, ".tmp")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    os.fchmod(fd, 0o666 & ~_umask())
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as handle:
            yield handle
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def atomic_folder(folder: Path) -> Iterator[Path]:
    """A staging folder that becomes ``folder`` when the block succeeds (``folder`` must not exist)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(folder.parent, folder.name, ".staging")
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.{os.getpid()}.", suffix=".staging", dir=folder.parent))
    os.chmod(staging, 0o777 & ~_umask())
    try:
        yield staging
        staging.rename(folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
