"""`synonym`: replace one word (or phrase) by a true synonym from the lexicons."""

from __future__ import annotations

import random
from typing import Iterator

from ..content import word_pattern
from ..render import Trail
from .base import Edit, MutationContext, shuffled, with_step


class SynonymMutator:
    op = "synonym"
    meaning_preserving = True

    def propose(self, trail: Trail, ctx: MutationContext, rng: random.Random) -> Iterator[Edit]:
        candidates = []
        for index, step in enumerate(trail.steps):
            for group in ctx.synonyms:
                for source in group:
                    matches = list(word_pattern(source).finditer(step.text))
                    for match in matches:
                        for target in group:
                            if target != source:
                                candidates.append((index, match.start(), match.end(), source, target))
        for index, start, end, source, target in shuffled(candidates, rng):
            text = trail.steps[index].text
            yield Edit(op=self.op,
                       detail=f"{source!r} -> {target!r} in {trail.steps[index].field}",
                       steps=with_step(trail.steps, index, text=text[:start] + target + text[end:]))
