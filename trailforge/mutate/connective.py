"""`connective`: swap a step's connective for another that expresses the same relation."""

from __future__ import annotations

import random
from typing import Iterator

from ..render import Trail
from .base import Edit, MutationContext, NeedsNoSetup, shuffled, with_step


class ConnectiveMutator(NeedsNoSetup):
    op = "connective"
    description = "swap a step's connective for another that expresses the same relation"
    meaning_preserving = True

    def propose(self, trail: Trail, ctx: MutationContext, rng: random.Random) -> Iterator[Edit]:
        candidates = [
            (index, alternative)
            for index, step in enumerate(trail.steps)
            for alternative in ctx.connectives(trail.steps, index, step.relation)
            if alternative != step.connective
        ]
        for index, alternative in shuffled(candidates, rng):
            step = trail.steps[index]
            yield Edit(
                op=self.op,
                detail=f"{step.connective!r} -> {alternative!r} in {step.field}",
                steps=with_step(trail.steps, index, connective=alternative),
            )
