"""Scoring untrusted answers out of process: a worker that can compute but not write, spawn or connect, on a clock.

reasoning-gym's scorers were written for trusted outputs. Several hand the answer to
code that evaluates it: sympy's ``parse_expr`` (which calls Python's ``eval``; countdown,
puzzle24, polynomial_multiplication, simple_integration, intermediate_integration) and
generators that ``eval`` an expression or parse it into big integers. An agent under RL,
or any client of ``envkit serve-env``, writes those answers: scored in process,
``__import__('pathlib').Path('MARKER').touch()`` creates the file, and ``9**9**9`` holds
one step for most of a minute (a C-level big-integer power cannot be interrupted from
inside the process).

So every reasoning answer, whatever its generator (a hundred scorers cannot be vetted
one by one, and new ones arrive with each reasoning-gym release), is scored by a worker
process (:class:`AnswerSandbox`):

- before it reads its first answer, the worker installs an audit hook (PEP 578) that
  refuses every event that changes the world outside the process: opening a file for
  writing, creating, removing or renaming files, starting processes, sending signals,
  opening sockets, loading native code through ``ctypes``, changing limits. Code an
  answer smuggles into a scorer can compute and read, nothing more, and the refusal
  makes the scorer fail, which scores 0;
- ``RLIMIT_AS`` bounds its memory (``memory_bytes``, default 2 GiB) and each answer has
  ``timeout_s`` (default 5 s) of wall time: past it the worker is killed, the answer
  scores 0, and a fresh worker serves the next answer.

An answer costs one round trip to the worker (well under a millisecond beyond its scorer's
own time); the worker starts once per process, on the first answer.
"""

from __future__ import annotations

import atexit
import base64
import json
import os
import pickle
import select
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import IO, Any

__all__ = ["AnswerSandbox", "SandboxVerdict", "sandbox"]

DEFAULT_TIMEOUT_S = 5.0
DEFAULT_MEMORY_BYTES = 2 << 30
_STARTUP_TIMEOUT_S = 120.0  # importing reasoning-gym and sympy on a loaded 2-core machine

# audit events refused inside the worker (exact names and prefixes ending in '.')
_REFUSED = (
    "os.remove",
    "os.rename",
    "os.rmdir",
    "os.mkdir",
    "os.chmod",
    "os.chown",
    "os.chflags",
    "os.link",
    "os.symlink",
    "os.truncate",
    "os.utime",
    "os.putenv",
    "os.unsetenv",
    "os.kill",
    "os.killpg",
    "os.fork",
    "os.forkpty",
    "os.exec",
    "os.posix_spawn",
    "os.spawn",
    "os.system",
    "os.setxattr",
    "os.removexattr",
    "shutil.",
    "subprocess.",
    "socket.",
    "ctypes.",
    "resource.setrlimit",
    "resource.prlimit",
    "pty.spawn",
    "sys.addaudithook",
    "fcntl.",
    "mmap.__new__",
    "webbrowser.open",
)
_WRITING_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


@dataclass(frozen=True, slots=True)
class SandboxVerdict:
    """A score in [0, 1] and, when the answer could not be scored normally, why (``None`` otherwise)."""

    score: float
    problem: str | None = None


def _refuse(event: str, args: tuple[Any, ...]) -> None:
    """The worker's audit hook: raise PermissionError on any event that reaches outside the process."""
    if event == "open":
        _path, mode, flags = [*args, None, None, None][:3]
        writing = any(c in str(mode or "") for c in "wax+") or bool((flags or 0) & _WRITING_FLAGS)
        if writing:
            raise PermissionError(f"the scorer may not open {args[0]!r} for writing")
        return
    if any(event == name or (name.endswith(".") and event.startswith(name)) for name in _REFUSED):
        raise PermissionError(f"the scorer may not do {event}")


def _serve(stdin: IO[str]) -> None:
    """The worker: load the scorers, lock the process down, then score one JSON request per line.

    Replies go to a private copy of stdout; a scorer that prints (some do) writes to
    /dev/null instead of into the replies. Each request is answered twice: ``loaded`` once
    its problem is generated (a generator's first problem can take seconds to build, off
    the clock), then the score.
    """
    import resource

    sys.dont_write_bytecode = True
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    quiet = os.open(os.devnull, os.O_WRONLY)
    os.dup2(quiet, 1)
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115  (for the worker's lifetime)
    import sympy  # noqa: F401  (the scorers import it lazily: load it before the lock)

    from composers.sources.reasoning_gym import generator_of_id

    limit = int(os.environ.get("ENVKIT_SANDBOX_MEMORY", DEFAULT_MEMORY_BYTES))
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    sys.addaudithook(_refuse)
    replies.write("ready\n")
    for line in stdin:
        request = json.loads(line)
        try:
            dataset = generator_of_id(request["id"])
            entry = pickle.loads(base64.b64decode(request["entry"]))  # from the parent, which is trusted
        except BaseException as error:
            replies.write("loaded\n" + json.dumps(_failed(error)) + "\n")
            continue
        replies.write("loaded\n")  # the problem is built: the answer's clock starts
        try:
            reply = {"score": float(dataset.score_answer(request["answer"], entry))}
        except BaseException as error:  # anything the scorer or the answer raised: that answer scores 0
            reply = _failed(error)
        replies.write(json.dumps(reply) + "\n")


def _failed(error: BaseException) -> dict[str, Any]:
    """The worker's reply for an answer that could not be scored: 0, and why."""
    return {"score": 0.0, "problem": f"{type(error).__name__}: {str(error)[:200]}"}


class AnswerSandbox:
    """A worker process that scores reasoning-gym answers under the audit hook, memory limit and clock above."""

    def __init__(self, timeout_s: float = DEFAULT_TIMEOUT_S, memory_bytes: int = DEFAULT_MEMORY_BYTES) -> None:
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        self.timeout_s, self.memory_bytes = timeout_s, memory_bytes
        self._worker: subprocess.Popen[str] | None = None
        self._pending = b""  # bytes read from the worker past its last full line
        self._lock = threading.Lock()  # one answer at a time per worker (serve-env sessions share it)

    def score(self, objective_id: str, entry: dict[str, Any], answer: str) -> SandboxVerdict:
        """Score ``answer`` to ``entry`` of the generator ``objective_id`` names; 0 with a reason if it cannot be.

        The entry travels from this process (pickled: a generator may draw a different
        problem in another process), the generator is rebuilt in the worker from the id.
        """
        request = {"id": objective_id, "entry": base64.b64encode(pickle.dumps(entry)).decode(), "answer": answer}
        with self._lock:
            worker = self._running()
            assert worker.stdin is not None and worker.stdout is not None
            try:
                worker.stdin.write(json.dumps(request) + "\n")
                worker.stdin.flush()
            except (BrokenPipeError, OSError):
                self._stop()
                return SandboxVerdict(0.0, "the scoring worker stopped")
            loaded = self._reply(worker, _STARTUP_TIMEOUT_S)  # the problem is built off the clock
            if loaded != "loaded":
                self._stop()
                return SandboxVerdict(0.0, "the scoring worker stopped while building the problem")
            line = self._reply(worker, self.timeout_s)
            if line is None:
                self._stop()
                return SandboxVerdict(0.0, f"scoring took longer than {self.timeout_s:g} s")
            try:
                reply = json.loads(line)
                return SandboxVerdict(min(1.0, max(0.0, float(reply["score"]))), reply.get("problem"))
            except (ValueError, KeyError, TypeError):  # killed for memory mid-reply, or crashed
                self._stop()
                return SandboxVerdict(0.0, "the scoring worker stopped (memory limit?)")

    def _reply(self, worker: subprocess.Popen[str], timeout_s: float) -> str | None:
        """The worker's next line, '' if it ended, None if none came within ``timeout_s``.

        Read from the raw pipe with a buffer of our own: a buffered reader could swallow two
        lines at once and leave ``select`` waiting for one already read.
        """
        assert worker.stdout is not None
        fd = worker.stdout.fileno()
        deadline = time.monotonic() + timeout_s
        while b"\n" not in self._pending:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([fd], [], [], max(0.0, left))
            if not ready:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return ""
            self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        return line.decode().strip()

    def _running(self) -> subprocess.Popen[str]:
        if self._worker is not None and self._worker.poll() is None:
            return self._worker
        env = {**os.environ, "ENVKIT_SANDBOX_MEMORY": str(self.memory_bytes), "OPENBLAS_NUM_THREADS": "1"}
        worker = subprocess.Popen(
            [sys.executable, "-m", "envkit.kinds.answer_sandbox"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
            cwd="/",
        )
        if self._reply(worker, _STARTUP_TIMEOUT_S) != "ready":
            worker.kill()
            worker.wait()
            raise RuntimeError("the reasoning-gym scoring worker did not start (is reasoning-gym installed?)")
        self._worker = worker
        return worker

    def _stop(self) -> None:
        self._pending = b""
        if self._worker is not None:
            self._worker.kill()
            self._worker.wait()
            self._worker = None

    def close(self) -> None:
        """Stop the worker (a later answer starts a new one)."""
        with self._lock:
            self._stop()


_SANDBOXES: dict[int, AnswerSandbox] = {}


def sandbox() -> AnswerSandbox:
    """The sandbox of the calling process (a forked or spawned env process gets its own worker)."""
    pid = os.getpid()
    if pid not in _SANDBOXES:
        _SANDBOXES[pid] = AnswerSandbox()
        atexit.register(_SANDBOXES[pid].close)
    return _SANDBOXES[pid]


if __name__ == "__main__":
    _serve(sys.stdin)
