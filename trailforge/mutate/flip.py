"""`flip`: one of the frame's meaning-changing minimal edits; the variant carries the new
conclusion, and a step whose relation the edit changes gets a connective of its new relation."""

from __future__ import annotations

import random
from itertools import product
from typing import Iterator

from ..content import Flip, word_pattern
from ..render import Step, Trail
from .base import Edit, MutationContext, NeedsNoSetup, shuffled, with_step


def _relation_changes(
    steps: tuple[Step, ...], flip: Flip, ctx: MutationContext
) -> Iterator[tuple[Step, ...]]:
    """`steps` with each step the flip re-relates given its new relation and, where its connective
    no longer fits, each connective of that relation in turn (the engine keeps one in the bound)."""
    fields = [s.field for s in steps]
    changed = [fields.index(f) for f in flip.relations if f in fields]
    options = []
    for index in changed:
        relation = flip.relations[steps[index].field]
        fitting = ctx.connectives(steps, index, relation)
        keep = steps[index].connective in fitting
        options.append(
            [(index, relation, c) for c in ([steps[index].connective] if keep else fitting)]
        )
    for choice in product(*options):
        new = steps
        for index, relation, connective in choice:
            new = with_step(new, index, relation=relation, connective=connective)
        yield new


class FlipMutator(NeedsNoSetup):
    op = "flip"
    description = "one of the frame's meaning-changing minimal edits, and the new conclusion"
    meaning_preserving = False

    def propose(self, trail: Trail, ctx: MutationContext, rng: random.Random) -> Iterator[Edit]:
        if not ctx.valid:
            return  # a broken chain's conclusion is already wrong; a flip could make it right
        fields = [s.field for s in trail.steps]
        conclusion_field = fields[-1]
        flips = [
            (i, f) for i, f in enumerate(ctx.frame.flips) if f.applies(trail.spec.stage, fields)
        ]
        for number, flip in shuffled(flips, rng):
            index = fields.index(flip.step)
            text = trail.steps[index].text
            pattern = word_pattern(flip.source)
            if len(pattern.findall(text)) != 1:
                continue  # an earlier edit touched the words; the flip no longer applies
            conclusion = flip.conclusions[conclusion_field]
            steps = with_step(trail.steps, index, text=pattern.sub(flip.target, text, count=1))
            steps = with_step(steps, len(steps) - 1, text=conclusion)
            detail = (
                f"{flip.source!r} -> {flip.target!r} in {flip.step}; "
                f"{conclusion_field} -> {conclusion!r}"
            )
            for edited in _relation_changes(steps, flip, ctx):
                moved = [
                    f"{s.field} {s.relation} {s.connective!r}"
                    for s, old in zip(edited, trail.steps)
                    if s.relation != old.relation
                ]
                yield Edit(
                    op=self.op,
                    detail=detail + "".join(f"; {m}" for m in moved),
                    steps=edited,
                    label_flipped=True,
                    flip=number,
                )
