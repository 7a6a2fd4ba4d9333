"""`synonym`: replace one word (or phrase) by a true synonym from the lexicons, or swap a
contraction ("cannot" <-> "can't"; counted apart in stats.json as kind `contraction`)."""

from __future__ import annotations

import random
import re
from functools import lru_cache
from typing import Iterator

from ..render import Trail
from .base import Edit, MutationContext, MutatorSetup, shuffled, with_step


@lru_cache(maxsize=64)
def _index(groups: tuple[tuple[str, ...], ...]) -> tuple[re.Pattern[str], dict[str, list[str]]]:
    """One whole-word pattern for every lexicon entry (longest first), and each entry's synonyms."""
    alternatives: dict[str, list[str]] = {}
    for group in groups:
        for word in group:
            alternatives.setdefault(word, []).extend(w for w in group if w != word)
    words = sorted(alternatives, key=lambda w: (-len(w), w))
    pattern = re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, words)) + r")(?!\w)")
    return pattern, alternatives


class SynonymMutator:
    op = "synonym"
    description = "replace a word by a true synonym from the lexicons, or swap a contraction"
    meaning_preserving = True

    def __init__(
        self,
        synonyms: tuple[tuple[str, ...], ...] = (),
        contractions: tuple[tuple[str, ...], ...] = (),
    ) -> None:
        self.synonyms = synonyms  # the general lexicon's; a domain adds its own
        self.contractions = contractions

    @classmethod
    def prepared(cls, setup: MutatorSetup) -> "SynonymMutator":
        return cls(setup.lexicon.synonyms, setup.lexicon.contractions)

    def propose(self, trail: Trail, ctx: MutationContext, rng: random.Random) -> Iterator[Edit]:
        candidates = []
        for kind, groups in (
            ("word", self.synonyms + ctx.domain.synonyms),
            ("contraction", self.contractions),
        ):
            if not groups:
                continue
            pattern, alternatives = _index(groups)
            candidates += [
                (index, match.start(), match.end(), match.group(), target, kind)
                for index, step in enumerate(trail.steps)
                for match in pattern.finditer(step.text)
                for target in alternatives[match.group()]
            ]
        for index, start, end, source, target, kind in shuffled(candidates, rng):
            text = trail.steps[index].text
            yield Edit(
                op=self.op,
                detail=f"{source!r} -> {target!r} in {trail.steps[index].field}",
                steps=with_step(trail.steps, index, text=text[:start] + target + text[end:]),
                kind=kind,
            )
