"""`filler`: insert a filler word right after an inferred step's connective, or delete one there.

Fillers ("clearly", "naturally") stress that a step follows, so they go only on inferred steps
(relation `follows` or `concludes`), never on a stated fact, whose certainty they would change.
"""

from __future__ import annotations

import random
from typing import Iterator

from ..grammar import INFERRED_RELATIONS
from ..render import Step, Trail
from .base import Edit, MutationContext, MutatorSetup, shuffled, with_step

#: Words of a hedged claim: a booster before one ("clearly likely") contradicts the hedge.
HEDGES = frozenset(
    {
        "likely",
        "unlikely",
        "may",
        "might",
        "probably",
        "possibly",
        "perhaps",
        "seems",
        "seem",
        "tends",
        "tend",
        "usually",
        "often",
        "generally",
    }
)


def accepts_filler(step: Step) -> bool:
    """An inferred, unhedged step whose connective ends in a comma or is one word ("Therefore,
    clearly ...", "Then clearly ...")."""
    return (
        step.relation in INFERRED_RELATIONS
        and not HEDGES & set(step.text.lower().split())
        and (step.connective.endswith(",") or " " not in step.connective)
    )


class FillerMutator:
    op = "filler"
    description = "insert or delete a filler word after an inferred step's connective"
    meaning_preserving = True

    def __init__(self, fillers: tuple[str, ...] = ()) -> None:
        self.fillers = fillers

    @classmethod
    def prepared(cls, setup: MutatorSetup) -> "FillerMutator":
        return cls(setup.lexicon.fillers)

    def propose(self, trail: Trail, ctx: MutationContext, rng: random.Random) -> Iterator[Edit]:
        candidates: list[tuple[int, str | None]] = []
        used = {s.text.partition(" ")[0] for s in trail.steps}  # one "clearly" a trail
        for index, step in enumerate(trail.steps):
            first, _, rest = step.text.partition(" ")
            if first in self.fillers and rest:
                candidates.append((index, None))
            elif accepts_filler(step):
                candidates.extend((index, word) for word in self.fillers if word not in used)
        for index, word in shuffled(candidates, rng):
            step = trail.steps[index]
            if word is None:
                first, _, rest = step.text.partition(" ")
                yield Edit(
                    op=self.op,
                    detail=f"delete {first!r} in {step.field}",
                    steps=with_step(trail.steps, index, text=rest),
                )
            else:
                yield Edit(
                    op=self.op,
                    detail=f"insert {word!r} in {step.field}",
                    steps=with_step(trail.steps, index, text=f"{word} {step.text}"),
                )
