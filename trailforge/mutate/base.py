"""What every mutator shares: the edit it proposes and the context it may read."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Iterable, Iterator, NamedTuple, Protocol, TypeVar

from ..content import Frame
from ..render import Step, Trail

T = TypeVar("T")


class Edit(NamedTuple):
    """A proposed change to a trail's steps; the engine re-renders and measures it. `kind`
    sub-divides an op's kept edits in stats.json (a synonym that is only a contraction)."""

    op: str
    detail: str
    steps: tuple[Step, ...]
    label_flipped: bool = False
    kind: str = ""
    flip: int | None = None  # which of the frame's flips a meaning-changing edit applies


@dataclass(frozen=True)
class MutationContext:
    """Read-only inputs a mutator may use besides the trail itself."""

    frame: Frame
    relations: dict[str, tuple[str, ...]]  # relation -> connectives (the grammar's)
    synonyms: tuple[tuple[str, ...], ...]
    contractions: tuple[tuple[str, ...], ...]
    fillers: tuple[str, ...]
    anchor_tags: tuple[str, ...]  # e.g. "[!] {}": `{}` is the anchored words
    anchors_in_completion: bool = False
    valid: bool = True  # False: the trail is a broken chain a judging role rejects

    def connectives(self, steps: tuple[Step, ...], index: int, relation: str) -> list[str]:
        """The connectives of `relation` that step `index` may take: none used by another step
        of the trail (a trail never says "So ... So")."""
        taken = {connective_key(s.connective) for i, s in enumerate(steps) if i != index}
        return [c for c in self.relations[relation] if connective_key(c) not in taken]


class Mutator(Protocol):
    """Proposes candidate edits of a trail, in a seeded order, finitely many.

    A mutator is pure: the same trail, context and RNG state give the same proposals. It never
    measures tokens; the engine keeps the first proposal within the bound under every tokenizer.
    """

    op: str
    #: False for edits that change what follows (never used inside drift walks).
    meaning_preserving: bool

    def propose(self, trail: Trail, ctx: MutationContext, rng: random.Random) -> Iterator[Edit]: ...


def connective_key(connective: str) -> str:
    """A connective's first word, without case and punctuation, to tell repeats: "So" and
    "So then", "But" and "But notice that" count as the same connective in one trail."""
    return connective.split(" ", 1)[0].lower().rstrip(",;:")


def with_step(steps: tuple[Step, ...], index: int, **changes: str) -> tuple[Step, ...]:
    """`steps` with step `index` changed."""
    return steps[:index] + (steps[index]._replace(**changes),) + steps[index + 1:]


def shuffled(items: Iterable[T], rng: random.Random) -> Iterator[T]:
    """The items in a seeded random order, drawn lazily: a Fisher-Yates shuffle that does only as
    many swaps as the consumer takes items (the engine usually needs one or two)."""
    pool = list(items)
    for i in range(len(pool)):
        j = rng.randrange(i, len(pool))
        pool[i], pool[j] = pool[j], pool[i]
        yield pool[i]
