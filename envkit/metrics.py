"""Exact match and token F1 with the SQuAD / HotpotQA answer normalisation.

Normalisation: lower-case, drop punctuation, drop the articles a/an/the, squeeze
whitespace (SQuAD's and HotpotQA's official scripts, which Search-R1's reward uses too).
Scores are the maximum over the gold answers. F1 follows HotpotQA: a ``yes``, ``no`` or
``noanswer`` on either side scores only against itself.

MEM1's own eval script differs (:func:`mem1_scores`, the QA env's ``metric="mem1"``):
punctuation becomes spaces and articles stay, answers are split on ``;`` only, a wrong
number of answers scores 0 for every objective, and its F1 compares token *sets*.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable, Sequence

__all__ = ["exact_match", "f1_score", "mem1_normalize", "mem1_scores", "normalize_answer"]

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lower, no punctuation, no articles, single spaces."""
    text = text.lower().translate(_PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def _golds(golden_answers: str | Iterable[str]) -> list[str]:
    """A bare string is one gold answer (as FlashRAG's and Search-R1's scorers read it), not its characters."""
    return [golden_answers] if isinstance(golden_answers, str) else list(golden_answers)


def exact_match(prediction: str, golden_answers: str | Iterable[str]) -> float:
    """1.0 when the normalised prediction equals a normalised gold answer (a bare string is one gold)."""
    predicted = normalize_answer(prediction)
    return float(any(predicted == normalize_answer(g) for g in _golds(golden_answers)))


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


def f1_score(prediction: str, golden_answers: str | Iterable[str]) -> float:
    """Token-level F1, the maximum over gold answers (a bare string is one gold)."""
    tokens = normalize_answer(prediction).split()
    if not tokens:
        return 0.0
    return max((_f1(tokens, g) for g in _golds(golden_answers)), default=0.0)


def mem1_normalize(text: str) -> str:
    """MEM1's eval normalisation (``Mem1/inference/eval.py: preprocess_text``): lower-case, punctuation to spaces.

    Unlike SQuAD's, articles stay ("the beatles" is not "beatles").
    """
    text = text.lower().translate(_PUNCTUATION_TO_SPACE)
    return " ".join(text.split())


_PUNCTUATION_TO_SPACE = str.maketrans(string.punctuation, " " * len(string.punctuation))


def mem1_scores(answer: str, golden_answers: Sequence[str | Iterable[str]]) -> tuple[list[float], list[float]]:
    """Per-objective EM and F1 as MEM1's eval script scores an ``<answer>`` element.

    The content is split on ``;`` (no numbered form); when the number of answers is not
    the number of objectives every objective scores 0. EM: the normalised answer is one
    of the normalised golds. F1: over *sets* of tokens, the best gold.
    """
    given = [mem1_normalize(a) for a in answer.split(";")]
    n = len(golden_answers)
    if len(given) != n:
        return [0.0] * n, [0.0] * n
    em, f1 = [], []
    for prediction, golds in zip(given, golden_answers, strict=True):
        normalised = [mem1_normalize(g) for g in _golds(golds)]
        em.append(float(prediction in normalised))
        best = 0.0
        predicted = set(prediction.split())
        for gold in normalised:
            wanted = set(gold.split())
            common = predicted & wanted
            if predicted and wanted and common:
                precision, recall = len(common) / len(predicted), len(common) / len(wanted)
                best = max(best, 2 * precision * recall / (precision + recall))
        f1.append(best)
    return em, f1
