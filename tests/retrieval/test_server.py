import concurrent.futures
import json
import time

import pytest
from pydantic import BaseModel, ValidationError

from tests.conftest import SMALL_WORLD, LiveServer, require


@pytest.fixture(scope="module")
def server(small_retriever):
    require("fastapi", "uvicorn", "httpx")
    from envkit.retrieval.server import ServerLimits, create_app

    live = LiveServer(create_app(small_retriever, ServerLimits(max_queries=8, max_topk=10, max_query_chars=200)))
    yield live
    live.stop()


@pytest.fixture
def client(server):
    import httpx

    with httpx.Client(base_url=server.url, timeout=10) as c:
        yield c


def test_search_r1_wire_format(client, small_retriever, small_source):
    query = small_source.world.name(17)
    with_scores = client.post("/retrieve", json={"queries": [query, "zzqq"], "topk": 2, "return_scores": True}).json()
    local = small_retriever.search(query, 2)
    assert [hit["document"]["id"] for hit in with_scores["result"][0]] == [p.id for p in local]
    assert with_scores["result"][0][0]["document"]["contents"] == local[0].contents
    assert with_scores["result"][0][0]["score"] == pytest.approx(local[0].score)
    assert with_scores["result"][1] == []
    without = client.post("/retrieve", json={"queries": [query], "topk": 1}).json()
    assert without["result"][0][0] == {"id": local[0].id, "contents": local[0].contents}


def test_health(client):
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["passages"] == 2000


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        (b"{not json", 400, "malformed JSON"),
        (b"[1, 2]", 422, "body: Input should be a valid dictionary"),
        (b'{"queries": "one"}', 422, "queries: Input should be a valid list"),
        (b'{"queries": ["a","b","c","d","e","f","g","h","i"]}', 422, "exceed the limit of 8"),
        (b'{"queries": ["a"], "topk": 11}', 422, "from 1 to 10"),
        (b'{"queries": ["a"], "topk": -2}', 422, "from 1 to 10"),
        (b'{"queries": ["a"], "topk": 2.5}', 422, "topk: Input should be a valid integer"),
        (b'{"queries": ["a"], "return_scores": "maybe"}', 422, "return_scores"),
        (b'{"queries": ["' + b"x" * 300 + b'"]}', 422, "exceeds the limit of 200"),
    ],
)
def test_bad_requests_get_a_4xx_and_the_server_keeps_serving(client, body, status, fragment):
    response = client.post("/retrieve", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status
    assert fragment in response.json()["error"]
    assert client.post("/retrieve", json={"queries": ["city"], "topk": 1}).status_code == 200


def test_concurrent_requests_are_batched(server, small_source, small_retriever):
    from envkit.retrieval.remote import RemoteRetriever

    names = [small_source.world.name(e) for e in range(0, 2000, 20)]
    before = server.server.config.app.state.batcher.batches
    remote = RemoteRetriever(server.url)
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda q: remote.search(q, 3), names))
    calls = server.server.config.app.state.batcher.batches - before
    assert [[p.id for p in r] for r in results] == [[p.id for p in small_retriever.search(q, 3)] for q in names]
    assert calls < len(names)


def test_remote_retriever_in_an_env(server):
    import gymnasium as gym

    from envkit.envs import QA_ENV_ID
    from envkit.policy import OracleAgent
    from envkit.rollout.episode import run_episode

    env = gym.make(QA_ENV_ID, source=SMALL_WORLD, n_objectives=3, retriever=server.url)
    for index in range(5):
        assert run_episode(env, OracleAgent(), task_index=index).success


def test_remote_retriever_reports_a_bad_request(server):
    from envkit.retrieval import RetrieverError
    from envkit.retrieval.remote import RemoteRetriever

    with pytest.raises(RetrieverError, match="rejected the request: 'topk' must be"):
        RemoteRetriever(server.url).search("x", k=50)


def test_a_gone_server_is_a_clear_error_after_retries():
    require("httpx")
    import socket

    from envkit.retrieval import RetrieverError
    from envkit.retrieval.remote import RemoteRetriever

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    remote = RemoteRetriever(f"http://127.0.0.1:{port}", timeout=1, retries=2, backoff=0.05, outage=0)
    start = time.monotonic()
    with pytest.raises(RetrieverError, match=r"unreachable after 3 attempts"):
        remote.search("anything")
    assert time.monotonic() - start < 5


def test_server_binds_loopback_by_default():
    import inspect

    from envkit.retrieval.server import serve

    assert inspect.signature(serve).parameters["host"].default == "127.0.0.1"


def test_remote_retriever_rejects_a_server_that_is_not_a_retrieval_server():
    require("fastapi", "uvicorn", "httpx")
    from fastapi import FastAPI
    from fastapi.responses import PlainTextResponse

    from envkit.retrieval import RetrieverError
    from envkit.retrieval.remote import RemoteRetriever

    odd = FastAPI()

    @odd.post("/retrieve")
    async def retrieve() -> PlainTextResponse:
        return PlainTextResponse("<html>not json</html>")

    live = LiveServer(odd)
    try:
        with pytest.raises(RetrieverError, match="invalid JSON"):
            RemoteRetriever(live.url, retries=0).search("q")
    finally:
        live.stop()


class _SearchR1QueryRequest(BaseModel):
    """The request model of Search-R1's ``search_r1/search/retrieval_server.py``, field for field."""

    queries: list[str]
    topk: int | None = None
    return_scores: bool = False


@pytest.mark.parametrize(
    "payload",
    [
        {"queries": []},
        {"queries": [], "topk": 3, "return_scores": True},
        {"queries": ["city"], "topk": "2"},
        {"queries": ["city"], "topk": 2.0},
        {"queries": ["city"], "topk": " 4 "},
        {"queries": ["city"], "topk": None},
        {"queries": ["city"], "topk": 0},
        {"queries": ["city"]},
        {"queries": ["city"], "topk": True},
        {"queries": ["city"], "return_scores": "true"},
        {"queries": ["city"], "return_scores": 1},
        {"queries": ["city"], "topk": 2.5},
        {"queries": [1]},
        {"queries": "city"},
        {"topk": 3},
    ],
)
def test_requests_are_read_as_search_r1s_server_reads_them(client, payload):
    """Accepted and refused alike; a missing, null or 0 topk is the server's default (3)."""
    try:
        original = _SearchR1QueryRequest.model_validate(payload)
    except ValidationError:
        original = None
    response = client.post("/retrieve", json=payload)
    if original is None:
        assert response.status_code == 422
        return
    assert response.status_code == 200, response.text
    result = response.json()["result"]  # what MEM1's and Search-R1's clients read
    assert len(result) == len(original.queries)
    topk = original.topk or 3
    for hits in result:
        assert len(hits) == topk
        assert ("score" in hits[0]) == original.return_scores


def _search_r1_passages2string(retrieval_result: list[dict]) -> str:
    """Search-R1's (and MEM1's) ``_passages2string`` in ``search_r1/llm_agent/generation.py``, as written there."""
    format_reference = ""
    for idx, doc_item in enumerate(retrieval_result):
        content = doc_item["document"]["contents"]
        title = content.split("\n")[0]
        text = "\n".join(content.split("\n")[1:])
        format_reference += f"Doc {idx + 1}(Title: {title}) {text}\n"
    return format_reference


def test_passages_render_and_travel_exactly_as_search_r1_renders_them(tmp_path):
    import httpx

    from envkit.retrieval.base import format_passages
    from envkit.retrieval.factory import make_retriever
    from envkit.retrieval.server import ServerLimits, create_app

    contents = [
        '"Velmora"\nVelmora is a river town.',  # wiki-18: quoted title line
        "Velmora Bridge\nThe bridge of Velmora town.",  # FlashRAG samples: some titles unquoted
        '"Velmora (band)"\nA band.\nIt formed in Velmora.',  # text over several lines
        "Velmora",  # no text line at all
    ]
    corpus = tmp_path / "wiki.jsonl"
    corpus.write_text("".join(json.dumps({"id": str(i), "contents": c}) + "\n" for i, c in enumerate(contents)))
    retriever = make_retriever("bm25", corpus)
    live = LiveServer(create_app(retriever, ServerLimits()))
    try:
        body = {"queries": ["Velmora"], "topk": 4, "return_scores": True}
        result = httpx.post(f"{live.url}/retrieve", json=body, timeout=10).json()
    finally:
        live.stop()
    hits = result["result"][0]
    assert sorted(hit["document"]["contents"] for hit in hits) == sorted(contents)  # byte for byte
    local = retriever.search("Velmora", k=4)
    assert format_passages(local) == _search_r1_passages2string(hits)


def test_an_oversized_body_is_refused_before_it_is_read(small_retriever):
    """A 400 MB body was read in full before the 4 MB limit applied (server memory 449 -> 836 MB)."""
    import threading

    import httpx
    import psutil

    from envkit.retrieval.server import ServerLimits, create_app

    live = LiveServer(create_app(small_retriever, ServerLimits(max_body_bytes=2048)))
    process, peak, done = psutil.Process(), [0], threading.Event()

    def watch() -> None:  # the server runs in this process: its memory is ours
        while not done.is_set():
            peak[0] = max(peak[0], process.memory_info().rss)
            done.wait(0.005)

    def chunked():  # 96 MB with no content-length: only counting can stop it
        for _ in range(96):
            yield b" " * (1 << 20)

    try:
        declared = httpx.post(f"{live.url}/retrieve", content=b"{" + b" " * 10_000 + b"}", timeout=10)
        assert declared.status_code == 413 and "exceeds 2048 bytes" in declared.json()["error"]
        before = process.memory_info().rss
        watcher = threading.Thread(target=watch)
        watcher.start()
        streamed = httpx.post(f"{live.url}/retrieve", content=chunked(), timeout=30)
        done.set()
        watcher.join()
        assert streamed.status_code == 413
        assert peak[0] - before < 48 * (1 << 20)  # never held the 96 MB body
        assert httpx.post(f"{live.url}/retrieve", json={"queries": ["city"]}, timeout=10).status_code == 200
    finally:
        live.stop()


@pytest.mark.slow
def test_the_client_waits_out_a_server_restart_then_says_so_clearly():
    """It gave up after 1.4 s of retries while a restart takes 4-21 s."""
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse

    from envkit.retrieval import RetrieverError
    from envkit.retrieval.remote import RemoteRetriever

    started = time.monotonic()
    restarting = FastAPI()

    @restarting.post("/retrieve")
    async def retrieve() -> JSONResponse:
        if time.monotonic() - started < 2.0:  # coming back up
            return JSONResponse({"error": "starting"}, status_code=503)
        return JSONResponse({"result": [[{"document": {"id": "1", "contents": "T\nx"}, "score": 1.0}]]})

    live = LiveServer(restarting)
    try:
        with pytest.raises(RetrieverError, match=r"unreachable after \d+ attempts over"):
            RemoteRetriever(live.url, retries=1, backoff=0.05, outage=0).search("q")
        hits = RemoteRetriever(live.url, retries=0, backoff=0.1, outage=10).search("q")
        assert [p.id for p in hits] == ["1"] and time.monotonic() - started >= 2.0
    finally:
        live.stop()


@pytest.mark.slow
def test_half_sent_requests_are_closed_and_everyone_else_is_served(small_retriever):
    """Half-sent requests were never timed out: under ulimit -n 1024, 1,100 of them locked everyone out."""
    import socket

    import httpx

    from envkit.retrieval.server import create_app

    server = LiveServer(create_app(small_retriever), header_timeout=0.5)
    port = server.port
    try:
        slow = []
        for _ in range(20):
            client = socket.create_connection(("127.0.0.1", port))
            client.sendall(b"POST /retrieve HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le")  # and never the rest
            slow.append(client)
        answer = httpx.post(f"http://127.0.0.1:{port}/retrieve", json={"queries": ["city"]}, timeout=5)
        assert answer.status_code == 200
        time.sleep(1.0)
        for client in slow:
            client.settimeout(2)
            assert client.recv(100) == b""  # closed by the server
            client.close()
        kept = socket.create_connection(("127.0.0.1", port))  # a complete request is not cut by the deadline
        kept.sendall(
            b"POST /retrieve HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 21\r\n\r\n"
        )
        time.sleep(0.8)  # the body may be slow: only headers have a deadline
        kept.sendall(b'{"queries": ["city"]}')
        kept.settimeout(5)
        assert kept.recv(100).startswith(b"HTTP/1.1 200")
        kept.close()
    finally:
        server.stop()
