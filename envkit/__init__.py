"""envkit: long-horizon, many-objective task environments for RL agents.

Importing envkit registers its Gymnasium envs (``envkit/MultiObjectiveQA-v0``).
A user needs three things: ``gym.make``, :func:`composers.compose`, and the
``envkit`` command.
"""

from envkit.envs import QA_ENV_ID, FormatPenalty, MultiObjectiveQAEnv, ProtocolContext
from envkit.protocol.context import Consolidated, Full, Window
from envkit.protocol.parser import Turn, Violation, ViolationKind, parse_answers, parse_turn
from envkit.protocol.tags import QA_TAGS, TagSet
from envkit.retrieval.base import Passage, Retriever

__version__ = "0.1.0"

__all__ = [
    "QA_ENV_ID",
    "MultiObjectiveQAEnv",
    "ProtocolContext",
    "FormatPenalty",
    "Consolidated",
    "Full",
    "Window",
    "TagSet",
    "QA_TAGS",
    "parse_turn",
    "parse_answers",
    "Turn",
    "Violation",
    "ViolationKind",
    "Passage",
    "Retriever",
    "__version__",
]
