"""Reach the Hugging Face Hub only when it answers: otherwise go offline at once.

Offline, each Hub look-up by ``datasets`` or ``transformers`` spent 25–50 s and a dozen
retry lines before its error. :func:`go_offline_unless_reachable` probes the Hub's
host once per process (one TCP connection, 3 s) and, when it does not answer or
``HF_HUB_OFFLINE`` is already set, switches both libraries to their offline mode, in
which a cached data set or model still loads and anything else fails in a second.
"""

from __future__ import annotations

import os
import socket
import sys
from functools import lru_cache
from urllib.parse import urlparse

__all__ = ["go_offline_unless_reachable", "hub_unreachable"]

_OFFLINE_FLAGS = (
    ("huggingface_hub.constants", "HF_HUB_OFFLINE"),
    ("datasets.config", "HF_HUB_OFFLINE"),
    ("datasets.config", "HF_DATASETS_OFFLINE"),
)


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


@lru_cache(maxsize=1)
def hub_unreachable(timeout: float = 3.0) -> str | None:
    """Why the Hub cannot be used from here (``HF_HUB_OFFLINE`` set, or its host not answering), else ``None``."""
    if _truthy(os.environ.get("HF_HUB_OFFLINE")) or _truthy(os.environ.get("HF_DATASETS_OFFLINE")):
        return "HF_HUB_OFFLINE is set"
    endpoint = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host = endpoint.hostname or "huggingface.co"
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as error:
        return f"{host} does not answer ({error.strerror or error})"
    return None


def go_offline_unless_reachable() -> str | None:
    """Put ``datasets`` and ``huggingface_hub`` in offline mode when the Hub is unreachable; the reason, if so."""
    reason = hub_unreachable()
    if reason is not None:
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["HF_DATASETS_OFFLINE"] = "1"
        for module_name, flag in _OFFLINE_FLAGS:  # already imported: they read these at import time
            module = sys.modules.get(module_name)
            if module is not None and hasattr(module, flag):
                setattr(module, flag, True)
    return reason
