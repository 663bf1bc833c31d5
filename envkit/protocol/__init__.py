"""The consolidated-state protocol: tags, parser, context builders, token accounting."""

from envkit.protocol.context import Consolidated, ContextBuilder, Full, Window, build_messages, make_context_builder
from envkit.protocol.parser import Action, Turn, Violation, ViolationKind, parse_answers, parse_turn
from envkit.protocol.tags import QA_TAGS, TagSet
from envkit.protocol.tokens import TokenizerCounter, count_word_pieces

__all__ = [
    "QA_TAGS",
    "Action",
    "Consolidated",
    "ContextBuilder",
    "Full",
    "TagSet",
    "TokenizerCounter",
    "Turn",
    "Violation",
    "ViolationKind",
    "Window",
    "build_messages",
    "count_word_pieces",
    "make_context_builder",
    "parse_answers",
    "parse_turn",
]
