"""`synonym`: replace one word (or phrase) by a true synonym from the lexicons, or swap a
contraction ("cannot" <-> "can't"; counted apart in stats.json as kind `contraction`)."""

from __future__ import annotations

import random
import re
from functools import lru_cache
from typing import Iterator

from ..render import Trail
from .base import Edit, MutationContext, MutatorSetup, shuffled, with_step


def _index(groups: tuple[tuple[str, ...], ...]) -> tuple[re.Pattern[str], dict[str, list[str]]]:
    """One whole-word pattern for every lexicon entry (longest first), and each entry's synonyms."""
    alternatives: dict[str, list[str]] = {}
    for group in groups:
        for word in group:
            alternatives.setdefault(word, []).extend(w for w in group if w != word)
    words = sorted(alternatives, key=lambda w: (-len(w), w))
    pattern = re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, words)) + r")(?!\w)")
    return pattern, alternatives


class _Matcher:
    """A lexicon's pattern and synonyms, and the matches in each clause it has seen (clauses
    repeat across a frame's renderings and a family's variants)."""

    def __init__(self, groups: tuple[tuple[str, ...], ...]) -> None:
        self.pattern, self.alternatives = _index(groups)
        self.matches = lru_cache(maxsize=1 << 14)(self._matches)

    def _matches(self, text: str) -> tuple[tuple[int, int, str], ...]:
        return tuple((m.start(), m.end(), m.group()) for m in self.pattern.finditer(text))


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
        self._matchers: dict[tuple[str, str], _Matcher | None] = {}  # (kind, domain) -> matcher

    @classmethod
    def prepared(cls, setup: MutatorSetup) -> "SynonymMutator":
        return cls(setup.lexicon.synonyms, setup.lexicon.contractions)

    def _matcher(self, kind: str, ctx: MutationContext) -> _Matcher | None:
        """The matcher of the general lexicon with the domain's synonyms (words), or of the
        contractions; None where there are no groups. Built once per domain."""
        key = (kind, ctx.domain.name if kind == "word" else "")
        if key not in self._matchers:
            groups = self.synonyms + ctx.domain.synonyms if kind == "word" else self.contractions
            self._matchers[key] = _Matcher(groups) if groups else None
        return self._matchers[key]

    def propose(self, trail: Trail, ctx: MutationContext, rng: random.Random) -> Iterator[Edit]:
        candidates = []
        for kind in ("word", "contraction"):
            matcher = self._matcher(kind, ctx)
            if matcher is None:
                continue
            candidates += [
                (index, start, end, source, target, kind)
                for index, step in enumerate(trail.steps)
                for start, end, source in matcher.matches(step.text)
                for target in matcher.alternatives[source]
            ]
        for index, start, end, source, target, kind in shuffled(candidates, rng):
            text = trail.steps[index].text
            yield Edit(
                op=self.op,
                detail=f"{source!r} -> {target!r} in {trail.steps[index].field}",
                steps=with_step(trail.steps, index, text=text[:start] + target + text[end:]),
                kind=kind,
            )
