"""Deprecated: the metrics moved to :mod:`envkit.metrics` (below the envs, which score with them)."""

from envkit.deprecations import moved_names

__getattr__ = moved_names(
    __name__,
    {
        name: "envkit.metrics"
        for name in ("exact_match", "f1_score", "mem1_normalize", "mem1_scores", "normalize_answer")
    },
)
