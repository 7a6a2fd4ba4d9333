"""What every mutator shares: the edit it proposes and the context it may read."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Iterator, Protocol

from ..content import Frame
from ..grammar import Chain
from ..render import Step, Trail


@dataclass(frozen=True)
class Edit:
    """A proposed change to a trail's steps; the engine re-renders and measures it."""

    op: str
    detail: str
    steps: tuple[Step, ...]
    label_flipped: bool = False


@dataclass(frozen=True)
class MutationContext:
    """Read-only inputs a mutator may use besides the trail itself."""

    chain: Chain
    frame: Frame
    synonyms: tuple[tuple[str, ...], ...]
    fillers: tuple[str, ...]
    markers: tuple[tuple[str, str], ...]  # affordable (marker, style) pairs


class Mutator(Protocol):
    """Proposes candidate edits of a trail, in a seeded order, finitely many.

    A mutator is pure: the same trail, context and RNG state give the same proposals. It never
    measures tokens; the engine keeps the first proposal within the bound under every tokenizer.
    """

    op: str
    #: False for edits that change what follows (never used inside drift walks).
    meaning_preserving: bool

    def propose(self, trail: Trail, ctx: MutationContext, rng: random.Random) -> Iterator[Edit]: ...


def with_step(steps: tuple[Step, ...], index: int, **changes: str) -> tuple[Step, ...]:
    """`steps` with step `index` changed."""
    return steps[:index] + (replace(steps[index], **changes),) + steps[index + 1:]


def shuffled(items: list, rng: random.Random) -> list:
    items = list(items)
    rng.shuffle(items)
    return items
