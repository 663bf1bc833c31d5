"""Sampling settings shared by every model policy, kept free of torch so scripted runs import light."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["GenerationSettings"]


@dataclass(frozen=True, slots=True)
class GenerationSettings:
    """Sampling settings; ``temperature=0`` means greedy decoding."""

    max_new_tokens: int = 256
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1, got {self.max_new_tokens}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be non-negative, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
