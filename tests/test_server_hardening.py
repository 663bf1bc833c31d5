"""One hardening for all four servers (retriever, shop, serve-env, serve-policy), each started as users start it.

Found against the running servers: serve-env and serve-policy had none of the others'
limits (a 500 MB declared body waited, a 150 MB chunked body was read whole, a busy
port ended in uvicorn's own error with exit 3); a killed server could not bind its port
again for about a minute (no SO_REUSEADDR); a slow body held its connection for as long
as the client liked.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from tests.cli.test_cli import assert_one_line_error
from tests.conftest import HANG_GUARD_S, LiveServer, require

SERVERS = {
    "retriever": (["retriever", "serve", "--corpus", "synthetic:passages=200,seed=0", "--no-jit"], "/health"),
    "shop": (["shop", "serve", "--shop", "shop:products=60,seed=1"], "/"),
    "serve-env": (["serve-env", "-s", "synthetic:passages=200,seed=0"], "/health"),
    "serve-policy": (["serve-policy", "tiny"], "/v1/models"),
}


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(name, port, tmp_path):
    args, _ = SERVERS[name]
    env = {**os.environ, "ENVKIT_CACHE": str(tmp_path / "cache")}
    return subprocess.Popen(
        [sys.executable, "-m", "envkit", *args, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def wait_until_serving(name, port, process):
    path = SERVERS[name][1]
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read()
        try:
            if httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError(f"{name} did not start")


def stop(process):
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def require_server(name):
    require("fastapi", "uvicorn")
    if name == "serve-env":
        require("openenv")
    if name == "serve-policy":
        require("torch", "transformers")


def raw_request(port, head, body=b"", read=True):
    client = socket.create_connection(("127.0.0.1", port))
    client.sendall(head + body)
    if not read:
        return client
    client.settimeout(30)
    answer = client.recv(200)
    client.close()
    return answer


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SERVERS))
def test_every_server_refuses_large_bodies_binds_again_at_once_and_says_a_busy_port_in_one_line(name, tmp_path):
    require_server(name)
    port = free_port()
    with socket.socket() as taken:  # a busy port: one line, exit 2, nothing claims to serve
        taken.bind(("127.0.0.1", port))
        taken.listen()
        args, _ = SERVERS[name]
        busy = subprocess.run(
            [sys.executable, "-m", "envkit", *args, "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=HANG_GUARD_S,
            env={**os.environ, "ENVKIT_CACHE": str(tmp_path / "cache")},
        )
    assert_one_line_error(busy, f"cannot serve on 127.0.0.1:{port}")

    server = start(name, port, tmp_path)
    try:
        wait_until_serving(name, port, server)
        declared = raw_request(port, b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 500000000\r\n\r\n", b"{")
        assert declared.startswith(b"HTTP/1.1 413"), declared
        chunk = b"%x\r\n%s\r\n" % (1 << 20, b"x" * (1 << 20))
        client = raw_request(port, b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", read=False)
        client.settimeout(30)
        answer = b""
        try:
            for _ in range(150):  # 150 MB offered; the server answers after the first 4 MiB
                client.sendall(chunk)
        except OSError:  # the server closed the connection after refusing
            pass
        answer = client.recv(200)
        client.close()
        assert answer.startswith(b"HTTP/1.1 413"), answer

        keep_alive = socket.create_connection(("127.0.0.1", port))  # a client connected when the server dies
        keep_alive.sendall(b"GET " + SERVERS[name][1].encode() + b" HTTP/1.1\r\nHost: a\r\n\r\n")
        keep_alive.recv(100)
        server.kill()
        server.wait()
        keep_alive.close()
        server = start(name, port, tmp_path)  # at once, on the same port
        wait_until_serving(name, port, server)
    finally:
        stop(server)


def test_a_slow_body_is_cut_at_its_deadline_and_a_whole_one_is_served():
    """Headers complete, Content-Length 100000, 13 bytes sent: 1,010 such connections locked everyone out."""

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    server = LiveServer(app, header_timeout=5, body_timeout=0.5)
    port = server.port
    try:
        slow = [
            raw_request(port, b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n", b"x" * 13, read=False)
            for _ in range(20)
        ]
        time.sleep(1.5)
        for client in slow:
            client.settimeout(5)
            assert client.recv(100) == b""  # closed by the server at the body's deadline
            client.close()
        whole = raw_request(port, b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n", b"hello")
        assert whole.startswith(b"HTTP/1.1 200")
    finally:
        server.stop()


def test_the_shops_page_number_is_a_400_when_it_is_not_a_plain_number(tmp_path, monkeypatch):
    """p=² and a 5,000-digit p answered 500."""
    require("fastapi")
    from fastapi.testclient import TestClient

    from envkit.shop.server import create_shop_app
    from envkit.shop.shop import open_shop

    monkeypatch.setenv("ENVKIT_CACHE", str(tmp_path))
    client = TestClient(create_shop_app(open_shop("shop:products=60,seed=1"), "test"), follow_redirects=False)
    start = client.get("/").headers["location"]
    assert client.get(start).status_code == 200  # the session opens on its first page
    session = start.split("/")[2]
    for page in ("²", "9" * 5000, "0", "-1", "1.5"):
        answer = client.get(f"/s/{session}/results", params={"q": "shirt", "p": page})
        assert answer.status_code == 400, page
    assert client.get(f"/s/{session}/results", params={"q": "shirt", "p": "2"}).status_code == 200
