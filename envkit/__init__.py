"""envkit: long-horizon, many-objective task environments for RL agents.

Importing envkit registers its Gymnasium envs (``envkit/MultiObjectiveQA-v0``,
``envkit/WebShop-v0``, ``envkit/Composite-v0``).
A user needs three things: ``gym.make``, :func:`composers.compose`, and the
``envkit`` command.
"""

from envkit.envs import COMPOSITE_ENV_ID, QA_ENV_ID, SHOP_ENV_ID, FormatPenalty, MultiObjectiveQAEnv, ProtocolContext
from envkit.protocol.context import Consolidated, Full, Window
from envkit.protocol.parser import Turn, Violation, ViolationKind, parse_answers, parse_turn
from envkit.protocol.tags import QA_TAGS, SHOP_TAGS, TagSet
from envkit.retrieval.base import Passage, Retriever

__version__ = "0.1.0"

__all__ = [
    "COMPOSITE_ENV_ID",
    "QA_ENV_ID",
    "QA_TAGS",
    "SHOP_ENV_ID",
    "SHOP_TAGS",
    "Consolidated",
    "FormatPenalty",
    "Full",
    "MultiObjectiveQAEnv",
    "Passage",
    "ProtocolContext",
    "Retriever",
    "TagSet",
    "Turn",
    "Violation",
    "ViolationKind",
    "Window",
    "__version__",
    "parse_answers",
    "parse_turn",
]
