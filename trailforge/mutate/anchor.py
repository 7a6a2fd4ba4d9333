"""`anchor`: tag the decisive word of a step ("[!] welded") so a model can see what a step turns on.

The decisive words are the frame's `anchor` for the step or, where it names none, the words a flip
of that step edits; never a function word, never a distractor step. Tags come from the recipe's
`anchors.tags`, each a pattern with `{}` for the words. By default anchors go only on steps before
the conclusion (the prompt side), so a model trained on `prompt_completion` never learns to emit
them (the `messages` assistant turn is the whole trail, tags included).
"""

from __future__ import annotations

import random
from typing import Iterator

from ..content import FUNCTION_WORDS, word_pattern
from ..render import Trail
from .base import Edit, MutationContext, MutatorSetup, shuffled, with_step


def tag_marks(tags: tuple[str, ...]) -> tuple[str, ...]:
    """The literal pieces of the tags ("[!]" of "[!] {}"): a text holding one carries a tag."""
    return tuple(dict.fromkeys(p.strip() for tag in tags for p in tag.split("{}") if p.strip()))


class AnchorMutator:
    op = "anchor"
    description = "tag a decisive word of a step (the frame's anchor or a flip site) in the prompt"
    meaning_preserving = True

    def __init__(self, tags: tuple[str, ...] = (), in_completion: bool = False) -> None:
        self.tags = tags  # e.g. "[!] {}": `{}` is the anchored words
        self.in_completion = in_completion
        self._marks = tag_marks(tags)

    @classmethod
    def prepared(cls, setup: MutatorSetup) -> "AnchorMutator":
        anchors = setup.recipe.anchors
        return cls(tuple(anchors.tags), anchors.in_completion)

    def propose(self, trail: Trail, ctx: MutationContext, rng: random.Random) -> Iterator[Edit]:
        if not self.tags or any(m in s.text for s in trail.steps for m in self._marks):
            return  # one anchor a trail: a walk does not pile tags up
        last = len(trail.steps) - 1
        candidates: list[tuple[int, str, str]] = []
        for index, step in enumerate(trail.steps):
            if (index == last and not self.in_completion) or step.field in ctx.frame.distractors:
                continue  # a distractor's words decide nothing
            anchor = ctx.frame.anchors.get(step.field)
            words = (
                [anchor] if anchor else [f.source for f in ctx.frame.flips if f.step == step.field]
            )
            for word in dict.fromkeys(w for w in words if w):
                if all(w.lower() in FUNCTION_WORDS for w in word.split()):
                    continue  # a flip may edit "no" or "more"; an anchor marks content words
                if len(word_pattern(word).findall(step.text)) == 1:
                    candidates.extend((index, word, tag) for tag in self.tags)
        for index, word, tag in shuffled(candidates, rng):
            step = trail.steps[index]
            text = word_pattern(word).sub(lambda _: tag.format(word), step.text, count=1)
            yield Edit(
                op=self.op,
                detail=f"{tag.format('')!r} on {word!r} in {step.field}",
                steps=with_step(trail.steps, index, text=text),
            )
