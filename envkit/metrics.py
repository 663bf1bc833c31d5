"""Exact match and token F1 with the SQuAD / HotpotQA answer normalisation.

Normalisation: lower-case, drop punctuation, drop the articles a/an/the, squeeze
whitespace. Scores are the maximum over the gold answers, as in the official scripts
and in MEM1 / Search-R1.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable

__all__ = ["exact_match", "f1_score", "normalize_answer"]

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lower, no punctuation, no articles, single spaces."""
    text = text.lower().translate(_PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, golden_answers: Iterable[str]) -> float:
    """1.0 when the normalised prediction equals a normalised gold answer."""
    predicted = normalize_answer(prediction)
    return float(any(predicted == normalize_answer(g) for g in golden_answers))


_EXACT_ONLY = ("yes", "no", "noanswer")


def _f1(prediction_tokens: list[str], gold: str) -> float:
    gold_norm = normalize_answer(gold)
    predicted = " ".join(prediction_tokens)
    # HotpotQA's official script: a yes/no/noanswer on either side scores only when both are equal
    if (predicted in _EXACT_ONLY or gold_norm in _EXACT_ONLY) and predicted != gold_norm:
        return 0.0
    gold_tokens = gold_norm.split()
    common = Counter(prediction_tokens) & Counter(gold_tokens)
    overlap = sum(common.values())
    if overlap == 0:
        return 0.0
    precision, recall = overlap / len(prediction_tokens), overlap / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def f1_score(prediction: str, golden_answers: Iterable[str]) -> float:
    """Token-level F1, the maximum over gold answers."""
    tokens = normalize_answer(prediction).split()
    if not tokens:
        return 0.0
    return max((_f1(tokens, g) for g in golden_answers), default=0.0)
