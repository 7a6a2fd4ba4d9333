"""Seeded randomness: every item gets its own RNG from a hash of what it is.

Never `seed + index` (overlapping streams), never Python's `hash()` (salted per process), never the
global RNG: the same inputs give the same numbers in any process, order or worker count.
"""

from __future__ import annotations

import hashlib
import random


def stable_hash(*parts: object) -> str:
    """A hex sha256 of the parts' string forms, separated unambiguously."""
    joined = "\x1f".join(map(repr, parts)) + "\x1f" if parts else ""  # each part, then \x1f
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()


def item_rng(seed: int, *parts: object) -> random.Random:
    """An RNG for one item and purpose, e.g. `item_rng(seed, "trail", stage, frame_id)`."""
    return random.Random(int(stable_hash(seed, *parts)[:32], 16))


def unit_interval(*parts: object) -> float:
    """A stable number in [0, 1) for the parts (used for split assignment)."""
    return int(stable_hash(*parts)[:13], 16) / float(16**13)


def version_fingerprint(
    trailforge_version: str,
    recipe: dict,
    inputs: dict[str, str],
    tokenizers: list[str],
    models: list[str],
) -> str:
    """What a version's bytes depend on: the trailforge version, the recipe as recorded, the
    sha256 of every input file, the tokenizers' and any model's fingerprints. `verify`
    recomputes it from the manifest."""
    return stable_hash(trailforge_version, recipe, sorted(inputs.items()), tokenizers, *models)
