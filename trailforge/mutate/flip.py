"""`flip`: the frame's meaning-changing minimal edit; the variant carries the new conclusion."""

from __future__ import annotations

import random
from typing import Iterator

from ..content import word_pattern
from ..render import Trail
from .base import Edit, MutationContext, with_step


class FlipMutator:
    op = "flip"
    meaning_preserving = False

    def propose(self, trail: Trail, ctx: MutationContext, rng: random.Random) -> Iterator[Edit]:
        flip = ctx.frame.flip
        if flip is None:
            return
        fields = [s.field for s in trail.steps]
        conclusion_field = trail.steps[-1].field
        if flip.step not in fields or conclusion_field not in flip.conclusions:
            return
        index = fields.index(flip.step)
        text = trail.steps[index].text
        pattern = word_pattern(flip.source)
        if len(pattern.findall(text)) != 1:
            return  # an earlier edit touched the words; the flip no longer applies
        steps = with_step(trail.steps, index, text=pattern.sub(flip.target, text, count=1))
        steps = with_step(steps, len(steps) - 1, text=flip.conclusions[conclusion_field])
        yield Edit(op=self.op, detail=f"{flip.source!r} -> {flip.target!r} in {flip.step}; "
                   f"{conclusion_field} -> {flip.conclusions[conclusion_field]!r}",
                   steps=steps, label_flipped=True)
