"""Distances between texts: token edit distance on id lists, and character edit distance."""

from __future__ import annotations

from typing import Sequence

from rapidfuzz.distance import Levenshtein


def token_distance(a: Sequence[int], b: Sequence[int], cutoff: int | None = None) -> int:
    """Levenshtein distance between two id lists (insert, delete, substitute: cost 1 each).

    With `cutoff`, any distance above it is reported as `cutoff + 1` (faster on long texts).
    Pass lists, not numpy arrays: rapidfuzz hashes lists several times faster.
    """
    a = a if isinstance(a, list) else list(a)  # id lists pass as they are, without a copy
    b = b if isinstance(b, list) else list(b)
    return Levenshtein.distance(a, b, score_cutoff=cutoff)


def char_distance(a: str, b: str) -> int:
    """Levenshtein distance between two strings, in characters."""
    return Levenshtein.distance(a, b)
