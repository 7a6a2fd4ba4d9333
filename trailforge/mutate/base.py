"""What every mutator shares: the edit it proposes and the context it may read."""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Iterator, NamedTuple, Protocol, TypeVar

from ..content import Domain, Frame, Lexicon
from ..recipe import Recipe
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
class MutatorSetup:
    """What a mutator may set itself up from, once per build (see `Mutator.prepared`)."""

    recipe: Recipe
    lexicon: Lexicon


@dataclass(frozen=True)
class MutationContext:
    """What the engine knows about the trail being mutated (the same for every mutator)."""

    frame: Frame
    domain: Domain
    relations: dict[str, tuple[str, ...]]  # relation -> connectives (the role's register)
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
    #: What its edits do, in a line (help texts list it with the op).
    description: str
    #: False for edits that change what follows (never used inside drift walks).
    meaning_preserving: bool

    @classmethod
    def prepared(cls, setup: MutatorSetup) -> "Mutator":
        """The mutator, set up once per build from the recipe and content (its own inputs)."""
        ...

    def propose(self, trail: Trail, ctx: MutationContext, rng: random.Random) -> Iterator[Edit]: ...


S = TypeVar("S", bound="NeedsNoSetup")


class NeedsNoSetup:
    """For mutators that read only the trail and its context."""

    @classmethod
    def prepared(cls: type[S], setup: MutatorSetup) -> S:
        return cls()


@lru_cache(maxsize=1 << 12)  # a recipe has tens of connectives; every proposal asks
def connective_key(connective: str) -> str:
    """A connective's first word, without case and punctuation, to tell repeats: "So" and
    "So then", "But" and "But notice that" count as the same connective in one trail."""
    return connective.split(" ", 1)[0].lower().rstrip(",;:")


def with_step(steps: tuple[Step, ...], index: int, **changes: str) -> tuple[Step, ...]:
    """`steps` with step `index` changed."""
    return steps[:index] + (steps[index]._replace(**changes),) + steps[index + 1 :]


def shuffled(items: Iterable[T], rng: random.Random) -> Iterator[T]:
    """The items in a seeded random order, drawn lazily: a Fisher-Yates shuffle that does only as
    many swaps as the consumer takes items (the engine usually needs one or two)."""
    pool = list(items)
    for i in range(len(pool)):
        j = rng.randrange(i, len(pool))
        pool[i], pool[j] = pool[j], pool[i]
        yield pool[i]
