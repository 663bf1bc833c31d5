"""Claim a TCP port before saying so: servers bind first, then announce, then serve."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

__all__ = ["PortError", "listen", "uvicorn_config"]


class PortError(ValueError):
    """A port the server cannot listen on (busy, privileged, a bad interface)."""


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` (uvicorn serves on it), or a one-line :class:`PortError`.

    Binding before anything is printed means a busy port is an error the user sees
    first, not a "serving" line followed by a crash.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise PortError(f"cannot serve on {host}:{port}: {error.strerror or error}") from None
    return sock


def uvicorn_config(app: Any, header_timeout: float = 10.0, max_connections: int = 1000, keep_alive: int = 5) -> Any:
    """Uvicorn's config for envkit's servers: quiet, and closed to slow or too many clients.

    ``header_timeout`` closes a connection whose request headers are not complete in
    time (half-sent requests otherwise hold their socket forever: 1,100 of them locked
    everyone out under ``ulimit -n 1024``); ``max_connections`` answers 503 past that
    many; ``keep_alive`` closes idle connections.
    """
    import uvicorn

    return uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        http=_header_timeout_protocol(header_timeout),
        limit_concurrency=max_connections,
        timeout_keep_alive=keep_alive,
    )


def _header_timeout_protocol(seconds: float) -> type:
    """Uvicorn's fastest HTTP/1.1 protocol (httptools, else h11) with a deadline on each request's headers."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # httptools is uvicorn's optional C parser: h11 is the pure-Python fallback
        from uvicorn.protocols.http.h11_impl import H11Protocol

        class H11HeaderTimeout(_HeaderTimeout, H11Protocol):
            def handle_events(self) -> None:
                before = getattr(self, "cycle", None)
                super().handle_events()
                if getattr(self, "cycle", None) is not before:  # a request's headers arrived
                    self._disarm()

        H11HeaderTimeout.seconds = seconds
        return H11HeaderTimeout

    class HttpToolsHeaderTimeout(_HeaderTimeout, HttpToolsProtocol):
        def on_headers_complete(self) -> None:
            self._disarm()
            super().on_headers_complete()

    HttpToolsHeaderTimeout.seconds = seconds
    return HttpToolsHeaderTimeout


class _HeaderTimeout:
    """A deadline on each request's headers, mixed into one of uvicorn's HTTP/1.1 protocols."""

    seconds: float = 10.0
    _timer: asyncio.TimerHandle | None = None
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport

    def _arm(self) -> None:
        self._disarm()
        self._timer = self.loop.call_later(self.seconds, self._too_slow)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _too_slow(self) -> None:
        self._timer = None
        if not self.transport.is_closing():
            self.transport.close()  # headers never completed: not a client worth a socket

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[misc]  # the protocol this is mixed into
        self._arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]  # the protocol this is mixed into
        if not self.transport.is_closing():
            self._arm()  # the next request on this connection gets the same deadline

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)  # type: ignore[misc]  # the protocol this is mixed into
