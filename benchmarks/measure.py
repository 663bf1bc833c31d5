"""Timing, memory and result-file helpers shared by the benchmarks."""

from __future__ import annotations

import json
import os
import platform
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def pin_one_core() -> None:
    """Run on one core, so "per core" figures mean what they say."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (MiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_rss() -> None:
    """Start the process's peak-RSS count afresh (Linux: ``clear_refs`` 5 resets ``VmHWM``)."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def rss_mib() -> float:
    """Resident memory of this process now (MiB)."""
    return _status_kib("VmRSS") / 1024


def peak_rss_since_reset_mib() -> float:
    """Peak resident memory since :func:`reset_peak_rss` (MiB)."""
    return _status_kib("VmHWM") / 1024


def repeat(fn: Callable[[], Any], repeats: int) -> list[float]:
    """Wall seconds of ``repeats`` calls of ``fn``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def single_search_ms(retriever: Any, queries: list[str], k: int = 3) -> float:
    """Median milliseconds of one ``search`` call."""
    times = []
    for query in queries:
        start = time.perf_counter()
        retriever.search(query, k)
        times.append(time.perf_counter() - start)
    return median(times) * 1e3


def batched_search_ms(retriever: Any, queries: list[str], k: int = 3, repeats: int = 1) -> float:
    """Milliseconds per query of one ``batch_search`` over ``queries`` (median of ``repeats``)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        retriever.batch_search(queries, k)
        times.append(time.perf_counter() - start)
    return median(times) / len(queries) * 1e3


def machine() -> dict[str, Any]:
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
    }


def write_result(name: str, command: str, results: dict[str, Any], targets: dict[str, Any]) -> Path:
    """Write ``results/<name>.json`` with the command that reproduces it."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {"benchmark": name, "command": command, "machine": machine(), "targets": targets, "results": results}
    path.write_text(json.dumps(payload, indent=2) + "\n")
    print(json.dumps({"targets": targets, "results": results}, indent=2))
    return path


@contextmanager
def envkit_server(*args: str, start_timeout: float = 120.0) -> Iterator[int]:
    """Run ``envkit ARGS --port PORT`` on a free loopback port until ``/health`` answers; yield the port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "envkit", *args, "--port", str(port)]
    # stderr to a file, not a pipe: a chatty server never blocks on a full pipe
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
        try:
            deadline = time.monotonic() + start_timeout
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                        break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        log.seek(0)
                        tail = log.read().decode(errors="replace")[-500:]
                        raise RuntimeError(f"{' '.join(args)} did not start: {tail}") from None
                    time.sleep(0.2)
            yield port
        finally:
            server.terminate()
            server.wait(timeout=30)
