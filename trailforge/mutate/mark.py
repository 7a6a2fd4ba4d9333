"""`mark`: put a plain-text emphasis or anchor marker before or around one word."""

from __future__ import annotations

import random
import re
from typing import Iterator

from ..render import Trail
from .base import Edit, MutationContext, with_step

#: Candidate markers, plain text only (no tokens are ever added to a vocabulary). The build measures
#: what each costs under the target tokenizers (`curriculum.affordable_markers`) and passes on only
#: those that fit the bound; every proposal is still measured.
MARKERS: tuple[str, ...] = ("**", "*", "@@", "§", "»", "->", "=>", "##", "!!", "::", "^", "~", "|")
STYLES = ("before", "around")
_ALNUM = re.compile(r"[^\W_]").search  # a letter or digit, exactly as str.isalnum


def mark_word(word: str, marker: str, style: str) -> list[str]:
    """The words that replace `word`: the marker before it, or glued around it."""
    return [marker, word] if style == "before" else [f"{marker}{word}{marker}"]


class MarkMutator:
    op = "mark"
    meaning_preserving = True

    def propose(self, trail: Trail, ctx: MutationContext, rng: random.Random) -> Iterator[Edit]:
        if not ctx.markers:
            return
        words = [step.text.split(" ") for step in trail.steps]
        slots = [(index, position) for index, step_words in enumerate(words)
                 for position, word in enumerate(step_words)
                 if _ALNUM(word)]  # never mark a marker or bare punctuation
        total = len(slots) * len(ctx.markers)
        seen: set[int] = set()
        # Draw (slot, marker style) without replacement, lazily: the engine needs only a few.
        while len(seen) < total:
            pick = rng.randrange(total)
            if pick in seen:
                continue
            seen.add(pick)
            slot, choice = divmod(pick, len(ctx.markers))
            marker, style = ctx.markers[choice]
            index, position = slots[slot]
            step_words = words[index]
            word = step_words[position]
            new = step_words[:position] + mark_word(word, marker, style) + step_words[position + 1:]
            yield Edit(op=self.op, detail=f"{marker} {style} {word!r} in {trail.steps[index].field}",
                       steps=with_step(trail.steps, index, text=" ".join(new)))
