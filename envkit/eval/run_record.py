"""What an eval run was played with, kept beside its trajectories, so a resumed run cannot mix two runs.

``envkit eval --resume`` keeps the episodes a report folder already holds and plays the
rest. Resuming with another policy, seed or env setting would quietly put two runs into
one table under one run's name (10 random-policy episodes counted under "policy:
oracle"). :func:`record_run` writes the settings that decide what an episode is
(``run.json``); :func:`check_resume` refuses, in one line naming each difference, to add
episodes played with other settings. The number of episodes, N values and context
builders may change: they select which episodes to play, not how.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from composers.atomic import atomic_file

__all__ = ["RUN_FILE", "check_resume", "record_run"]

RUN_FILE = "run.json"


def record_run(folder: str | Path, settings: Mapping[str, Any]) -> None:
    """Write ``settings`` (JSON values) as the run's record, replacing any earlier one."""
    with atomic_file(Path(folder) / RUN_FILE, "w") as handle:
        handle.write(json.dumps(dict(settings), indent=2, sort_keys=True) + "\n")


def check_resume(folder: str | Path, trajectories: str | Path, settings: Mapping[str, Any]) -> None:
    """Raise ValueError (one line) unless ``trajectories`` were played with ``settings``; nothing to check if absent."""
    if not Path(trajectories).exists():
        return
    path = Path(folder) / RUN_FILE
    if not path.is_file():
        raise ValueError(
            f"--resume: {trajectories} has no {RUN_FILE} saying how its episodes were played "
            "(an older envkit wrote it): write this run to a new folder"
        )
    try:
        recorded = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}:{error.lineno}: invalid JSON ({error.msg})") from None
    if not isinstance(recorded, dict):
        raise ValueError(f"{path}: not a run record (expected a JSON object)")
    wanted = json.loads(json.dumps(dict(settings)))  # as JSON would store them (tuples as lists, paths as text)
    differences = [
        f"{key} {recorded.get(key)!r} there, {wanted.get(key)!r} now"
        for key in sorted(set(recorded) | set(wanted))
        if recorded.get(key) != wanted.get(key)
    ]
    if differences:
        raise ValueError(
            f"--resume: {folder} holds episodes played with other settings ({'; '.join(differences)}): "
            "resume with the same settings, or write this run to a new folder"
        )
