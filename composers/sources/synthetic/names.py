"""Fictional, unique names made from syllables.

Names must be unique (a question that names an entity must have one answer) and
unknown to any model (so it can only answer by searching). Each word is a bijective
function of an integer: the integer is shuffled by an affine permutation and then
written in a syllable "alphabet", so distinct integers always give distinct words and
nothing has to be stored, even for a million entities.
"""

from __future__ import annotations

_MASK64 = (1 << 64) - 1

ONSETS = (
    "b", "br", "c", "d", "dr", "f", "g", "gr", "h", "j", "k", "kr", "l", "m",
    "n", "p", "pr", "r", "s", "st", "t", "tr", "v", "z", "th", "sh", "w", "sk",
)  # fmt: skip
VOWELS = ("a", "e", "i", "o", "u", "ae", "ai", "ea", "io", "ou", "y")
# Codas are single letters that begin no onset, so every word splits into syllables
# in exactly one way: distinct syllable sequences are distinct strings.
CODAS = ("", "n", "r", "l", "m", "x", "v")
SYLLABLES = tuple(o + v + c for o in ONSETS for v in VOWELS for c in CODAS)

FIRST_NAMES = tuple(
    (a + b).capitalize()
    for a in ("Al", "Bel", "Cor", "Da", "El", "Fen", "Gal", "Hal", "Il", "Jor", "Kal", "Lor", "Mar", "Nel", "Or")
    for b in ("an", "ena", "is", "o", "ric", "wen", "dra", "ion", "ith", "ara", "eth", "ys")
)


def mix64(x: int) -> int:
    """SplitMix64 finaliser: a fast, well-spread 64-bit hash of an integer."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def hash_key(seed: int, *parts: int) -> int:
    """Hash a seed and integer parts into one 64-bit integer."""
    h = mix64(seed & _MASK64)
    for part in parts:
        h = mix64(h ^ (part & _MASK64))
    return h


class WordSpace:
    """Bijective map from ``[0, size)`` to pronounceable words of ``syllables`` syllables."""

    def __init__(self, syllables: int, seed: int) -> None:
        self.syllables = syllables
        self.size = len(SYLLABLES) ** syllables
        # An affine permutation i -> (a*i + b) mod size is bijective when gcd(a, size) == 1.
        base = len(SYLLABLES)
        a = hash_key(seed, 101, syllables) % self.size
        while _gcd(a, base) != 1 or a < 2:
            a += 1
        self._a, self._b = a, hash_key(seed, 202, syllables) % self.size

    def word(self, index: int) -> str:
        """The word for ``index``; distinct indices give distinct words."""
        if not 0 <= index < self.size:
            raise ValueError(f"word index {index} outside [0, {self.size})")
        x = (self._a * index + self._b) % self.size
        base = len(SYLLABLES)
        parts = []
        for _ in range(self.syllables):
            x, digit = divmod(x, base)
            parts.append(SYLLABLES[digit])
        return "".join(parts).capitalize()


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a
