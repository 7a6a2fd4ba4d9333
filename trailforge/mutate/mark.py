"""`mark`: put a plain-text emphasis or anchor marker before or around one word."""

from __future__ import annotations

import random
from typing import Iterator

from ..render import Trail
from .base import Edit, MutationContext, shuffled, with_step

#: Candidate markers, plain text only (no tokens are ever added to a vocabulary). The build measures
#: what each costs under the target tokenizers (`curriculum.affordable_markers`) and passes on only
#: those that fit the bound; every proposal is still measured.
MARKERS: tuple[str, ...] = ("**", "*", "@@", "§", "»", "->", "=>", "##", "!!", "::", "^", "~", "|")


class MarkMutator:
    op = "mark"
    meaning_preserving = True

    def propose(self, trail: Trail, ctx: MutationContext, rng: random.Random) -> Iterator[Edit]:
        if not ctx.markers:
            return
        candidates = []
        for index, step in enumerate(trail.steps):
            words = step.text.split(" ")
            for position, word in enumerate(words):
                if not any(ch.isalnum() for ch in word):
                    continue  # never mark a marker or bare punctuation
                for marker in ctx.markers:
                    candidates.append((index, position, marker, "before"))
                    candidates.append((index, position, marker, "around"))
        for index, position, marker, style in shuffled(candidates, rng):
            words = trail.steps[index].text.split(" ")
            word = words[position]
            new = words[:position] + ([marker, word] if style == "before"
                                      else [f"{marker}{word}{marker}"]) + words[position + 1:]
            yield Edit(op=self.op, detail=f"{marker} {style} {word!r} in {trail.steps[index].field}",
                       steps=with_step(trail.steps, index, text=" ".join(new)))
