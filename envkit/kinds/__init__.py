"""Objective kinds as plug-ins: questions, purchases, reasoning problems, and yours.

See :mod:`envkit.kinds.base` for what a kind provides and
:mod:`envkit.kinds.registry` for how one is registered.
"""

from envkit.kinds.base import KindError, ObjectiveEnv, ObjectiveKind, PromptSection
from envkit.kinds.registry import get_kind, kind_names, kinds_of, register_kind

__all__ = [
    "KindError",
    "ObjectiveEnv",
    "ObjectiveKind",
    "PromptSection",
    "get_kind",
    "kind_names",
    "kinds_of",
    "register_kind",
]
