"""Claim a TCP port before saying so: servers bind first, then announce, then serve."""

from __future__ import annotations

import socket

__all__ = ["PortError", "listen"]


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
