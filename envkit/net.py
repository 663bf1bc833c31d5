"""Claim a TCP port before saying so: servers bind first, then announce, then serve."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

__all__ = ["BoundedBodies", "PortError", "listen", "serve_app", "uvicorn_config"]

MAX_BODY_BYTES = 4 * 1024 * 1024


class PortError(ValueError):
    """A port the server cannot listen on (busy, privileged, a bad interface)."""


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` (uvicorn serves on it), or a one-line :class:`PortError`.

    Binding before anything is printed means a busy port is an error the user sees
    first, not a "serving" line followed by a crash.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    # a restart right after a kill may bind while the old connections sit in TIME_WAIT (about a minute
    # otherwise); Linux still refuses a port another socket listens on, so a busy port stays an error
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise PortError(f"cannot serve on {host}:{port}: {error.strerror or error}") from None
    return sock


def uvicorn_config(
    app: Any,
    header_timeout: float = 10.0,
    max_connections: int = 1000,
    keep_alive: int = 5,
    body_timeout: float = 30.0,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> Any:
    """Uvicorn's config for envkit's servers: quiet, and closed to slow, large or too many clients.

    ``header_timeout`` closes a connection whose request headers are not complete in
    time (half-sent requests otherwise hold their socket forever: 1,100 of them locked
    everyone out under ``ulimit -n 1024``); ``body_timeout`` does the same for a body
    (1,010 connections that declared 100 KB and sent 13 bytes kept every other client
    at 503); ``max_body_bytes`` answers 413 to a larger body without reading it
    (:class:`BoundedBodies`); ``max_connections`` answers 503 past that many;
    ``keep_alive`` closes idle connections.
    """
    import uvicorn

    return uvicorn.Config(
        BoundedBodies(app, max_body_bytes),
        log_level="warning",
        access_log=False,
        http=_deadline_protocol(header_timeout, body_timeout),
        limit_concurrency=max_connections,
        timeout_keep_alive=keep_alive,
    )


def serve_app(app: Any, sock: socket.socket, **limits: Any) -> None:
    """Serve an ASGI app on a socket from :func:`listen` with :func:`uvicorn_config`'s limits, until interrupted."""
    import uvicorn

    uvicorn.Server(uvicorn_config(app, **limits)).run(sockets=[sock])


class BoundedBodies:
    """ASGI middleware: a request body over ``max_bytes`` is answered 413 and never read past the limit.

    A declared ``Content-Length`` over the limit is refused before any byte of the body
    is read; a chunked body is read up to the limit, then refused (a 150 MB chunked body
    was read whole, +300 MB of memory). Bodies under the limit reach the app unchanged.
    WebSocket and lifespan traffic pass through.
    """

    def __init__(self, app: Any, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or len(declared) > 18 or int(declared) > self.max_bytes):
            await self._refuse(send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                await self._refuse(send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return dict(await receive())

        await self.app(scope, replay, send)

    async def _refuse(self, send: Any) -> None:
        body = f'{{"detail": "the request body exceeds {self.max_bytes} bytes"}}'.encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": [*headers, (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


def _deadline_protocol(header_seconds: float, body_seconds: float) -> type:
    """Uvicorn's fastest HTTP/1.1 protocol (httptools, else h11) with deadlines on each request's headers and body."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # httptools is uvicorn's optional C parser: h11 is the pure-Python fallback
        from uvicorn.protocols.http.h11_impl import H11Protocol

        class H11Deadlines(_Deadlines, H11Protocol):
            def handle_events(self) -> None:
                before = getattr(self, "cycle", None)
                super().handle_events()
                cycle = getattr(self, "cycle", None)
                if cycle is not None and not getattr(cycle, "more_body", True):
                    self._disarm()  # the whole request arrived
                elif cycle is not before:  # its headers arrived: the body's clock starts
                    self._arm(self.body_seconds)

        H11Deadlines.seconds, H11Deadlines.body_seconds = header_seconds, body_seconds
        return H11Deadlines

    class HttpToolsDeadlines(_Deadlines, HttpToolsProtocol):
        def on_headers_complete(self) -> None:
            self._arm(self.body_seconds)
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            self._disarm()
            super().on_message_complete()

    HttpToolsDeadlines.seconds, HttpToolsDeadlines.body_seconds = header_seconds, body_seconds
    return HttpToolsDeadlines


class _Deadlines:
    """Deadlines on each request's headers, then on its body, mixed into one of uvicorn's HTTP/1.1 protocols."""

    seconds: float = 10.0
    body_seconds: float = 30.0
    _timer: asyncio.TimerHandle | None = None
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport

    def _arm(self, seconds: float | None = None) -> None:
        self._disarm()
        self._timer = self.loop.call_later(self.seconds if seconds is None else seconds, self._too_slow)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _too_slow(self) -> None:
        self._timer = None
        if not self.transport.is_closing():
            self.transport.close()  # the request never completed: not a client worth a socket

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[misc]  # the protocol this is mixed into
        self._arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]  # the protocol this is mixed into
        if not self.transport.is_closing():
            self._arm()  # the next request on this connection gets the same deadlines

    def handle_websocket_upgrade(self, *event: Any) -> None:
        self._disarm()  # the connection becomes a WebSocket: no HTTP deadline applies to it any more
        super().handle_websocket_upgrade(*event)  # type: ignore[misc]  # the protocol this is mixed into

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)  # type: ignore[misc]  # the protocol this is mixed into
