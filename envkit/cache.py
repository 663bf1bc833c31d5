"""Where envkit keeps what it builds once and reuses: ``$ENVKIT_CACHE`` (default ``~/.cache/envkit``).

Converted models live in ``models/``, shop catalogs and their indexes in ``shop/``.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["envkit_cache"]


def envkit_cache() -> Path:
    """The cache folder, read from ``$ENVKIT_CACHE`` at each call (tests and users may change it)."""
    return Path(os.environ.get("ENVKIT_CACHE", Path.home() / ".cache" / "envkit"))
