"""Token counting for context accounting.

Peak context tokens are MEM1's memory measure, so every episode records them. The
count is taken with the policy's tokenizer when one is given (:class:`TokenizerCounter`)
and otherwise with :func:`count_word_pieces`, the documented default: one token per
run of word characters and one per other non-space character. On English prose it
lands within about 20% of BPE tokenizers such as Qwen2's, which is enough to compare
context builders; quote tokenizer counts when comparing with papers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

__all__ = ["TokenCounter", "TokenizerCounter", "count_word_pieces"]

TokenCounter = Callable[[str], int]
"""Anything that maps a text to its number of tokens."""

_PIECE = re.compile(r"\w+|[^\w\s]")


def count_word_pieces(text: str) -> int:
    """Default token count: word runs plus punctuation marks."""
    return len(_PIECE.findall(text))


class TokenizerCounter:
    """Counts tokens with a Hugging Face tokenizer (no special tokens added)."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer

    def __call__(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))
