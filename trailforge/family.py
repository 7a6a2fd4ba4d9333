"""Families: a base trail, its single-edit variants and its drift walks, all within the token bound.

The engine here is the only place that measures: mutators propose, the engine re-renders each
proposal, re-encodes the final text with every target tokenizer and keeps it only if
1 <= distance <= bound under all of them. Walks must also drift: every step moves strictly further
from the base under every tokenizer.
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import islice
from typing import Iterator, Sequence

from .distance import char_distance, token_distance
from .mutate import Edit, MutationContext, Mutator
from .render import Renderer, Trail
from .tokenize import Encoded, Tokenizer, edit_measure

#: Proposals one mutator may make for one edit before the engine gives up on it.
MAX_TRIES = 24


@dataclass
class Member:
    """One row-to-be of a family."""

    trail: Trail
    encoded: tuple[Encoded, ...]  # one per target tokenizer
    depth: int = 0
    parent: int | None = None  # index of the parent in the family
    walk: int | None = None
    op: str | None = None
    detail: str | None = None
    label_flipped: bool = False
    flip: int | None = None  # the frame's flip this member (or an ancestor) applies
    distance: tuple[int, ...] | None = None
    base_distance: tuple[int, ...] | None = None
    char_distance: int | None = None

    @property
    def ids(self) -> tuple[list[int], ...]:
        return tuple(e.ids for e in self.encoded)


@dataclass
class MutationStats:
    """Proposals per op: how many were tried, kept (and of which kind), and rejected (by reason)."""

    proposed: Counter = field(default_factory=Counter)
    kept: Counter = field(default_factory=Counter)
    rejected: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    kinds: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))

    def merge(self, other: "MutationStats") -> None:
        self.proposed.update(other.proposed)
        self.kept.update(other.kept)
        for op, reasons in other.rejected.items():
            self.rejected[op].update(reasons)
        for op, kinds in other.kinds.items():
            self.kinds[op].update(kinds)

    def as_raw(self) -> dict:
        """A JSON-able form that `from_raw` reads back (for shard markers)."""
        return {
            "proposed": dict(self.proposed),
            "kept": dict(self.kept),
            "rejected": {op: dict(r) for op, r in self.rejected.items()},
            "kinds": {op: dict(k) for op, k in self.kinds.items()},
        }

    @classmethod
    def from_raw(cls, raw: dict) -> "MutationStats":
        stats = cls(proposed=Counter(raw["proposed"]), kept=Counter(raw["kept"]))
        for op, reasons in raw["rejected"].items():
            stats.rejected[op].update(reasons)
        for op, kinds in raw.get("kinds", {}).items():
            stats.kinds[op].update(kinds)
        return stats

    def as_dict(self) -> dict:
        ops = sorted(set(self.proposed) | set(self.kept))
        report = {
            op: {
                "proposed": self.proposed[op],
                "kept": self.kept[op],
                "rejected": dict(sorted(self.rejected[op].items())),
                "rejection_rate": round(1 - self.kept[op] / self.proposed[op], 4)
                if self.proposed[op]
                else 0.0,
            }
            for op in ops
        }
        for op, kinds in self.kinds.items():
            if op in report:
                report[op]["kinds"] = dict(sorted(kinds.items()))
        return report


def rarity(ids: Sequence[int], vocab_size: int) -> float:
    """How unusual a text's tokens are, in [0, 1]: the mean of log(1 + id) / log(vocab size).

    BPE vocabularies assign low ids to early, frequent merges, so low rarity means a text made of
    predictable tokens; within a stage the curriculum puts those first.
    """
    if not ids:
        return 0.0
    return round(sum(map(math.log1p, ids)) / (len(ids) * math.log(max(vocab_size, 2))), 6)


def encode_all(tokenizers: Sequence[Tokenizer], text: str) -> tuple[Encoded, ...]:
    return tuple(t.encode(text) for t in tokenizers)


class FamilyGrower:
    """Grows families for one build; holds no per-family state."""

    def __init__(
        self,
        renderer: Renderer,
        tokenizers: Sequence[Tokenizer],
        mutators: dict[str, Mutator],
        bound: int,
        variants_per_trail: int,
        walks: int,
        walk_depth: int,
        flip_bound: int | None = None,
    ) -> None:
        self.renderer = renderer
        self.tokenizers = tuple(tokenizers)
        self._measures = tuple(edit_measure(t) for t in self.tokenizers)
        self.mutators = mutators  # op -> a prepared mutator (mutate.prepare_mutators)
        self.bound = bound
        self.flip_bound = bound if flip_bound is None else flip_bound
        self.variants_per_trail = variants_per_trail
        self.walks = walks
        self.walk_depth = walk_depth
        self.stats = MutationStats()

    def _measure(
        self, parent: Member, base: Member, edit_trail: Trail, op: str, seen: set[str], drift: bool
    ) -> tuple | None:
        if edit_trail.text in seen:
            self.stats.rejected[op]["duplicate"] += 1
            return None
        encoded, distances = [], []
        bound = self.bound if self.mutators[op].meaning_preserving else self.flip_bound
        for tok, measure, parent_encoded in zip(self.tokenizers, self._measures, parent.encoded):
            # Only the window around the edit is re-encoded; the distance between the changed
            # spans equals the distance between the whole id lists.
            new, d = measure(parent.trail.text, parent_encoded, edit_trail.text, bound)
            if d == 0:
                self.stats.rejected[op]["no_token_change"] += 1
                return None
            if d > bound or new is None:
                self.stats.rejected[op][f"over_bound:{tok.label}"] += 1
                return None
            encoded.append(new)
            distances.append(d)
        if parent is base:
            return tuple(encoded), tuple(distances), tuple(distances)
        base_distances = tuple(token_distance(b.ids, n.ids) for b, n in zip(base.encoded, encoded))
        if drift and any(
            new <= old for new, old in zip(base_distances, parent.base_distance or ())
        ):
            self.stats.rejected[op]["not_drifting"] += 1
            return None
        return tuple(encoded), tuple(distances), base_distances

    def _derive(
        self,
        family: list[Member],
        parent_index: int,
        ops: Sequence[str],
        proposals: dict[str, Iterator[Edit]],
        ctx: MutationContext,
        rng: random.Random,
        seen: set[str],
        walk: int | None,
    ) -> Member | None:
        """The first proposal of the first op (in `ops` order) that passes, as a new member.
        `proposals` holds each op's proposal stream for this parent, shared by its derivations,
        so none is set up or proposed twice."""
        parent, base = family[parent_index], family[0]
        for op in ops:
            if op not in proposals:
                proposals[op] = self.mutators[op].propose(parent.trail, ctx, rng)
            for edit in islice(proposals[op], MAX_TRIES):
                self.stats.proposed[op] += 1
                trail = self.renderer.render(parent.trail.spec, edit.steps)
                measured = self._measure(parent, base, trail, op, seen, drift=walk is not None)
                if measured is None:
                    continue
                encoded, distances, base_distances = measured
                self.stats.kept[op] += 1
                if edit.kind:
                    self.stats.kinds[op][edit.kind] += 1
                seen.add(trail.text)
                return Member(
                    trail=trail,
                    encoded=encoded,
                    depth=parent.depth + 1,
                    parent=parent_index,
                    walk=walk,
                    op=op,
                    detail=edit.detail,
                    label_flipped=parent.label_flipped or edit.label_flipped,
                    flip=parent.flip if edit.flip is None else edit.flip,
                    distance=distances,
                    base_distance=base_distances,
                    char_distance=char_distance(parent.trail.text, trail.text),
                )
        return None

    def grow(self, base_trail: Trail, ctx: MutationContext, rng: random.Random) -> list[Member]:
        """The family of `base_trail`: base first, then single-edit variants, then walks."""
        base = Member(trail=base_trail, encoded=encode_all(self.tokenizers, base_trail.text))
        family, seen = [base], {base_trail.text}
        ops = list(self.mutators)
        rng.shuffle(ops)
        # Meaning-changing ops first: where a frame offers a flip, its family always gets one.
        ops.sort(key=lambda op: self.mutators[op].meaning_preserving)
        from_base: dict[str, Iterator[Edit]] = {}
        for k in range(self.variants_per_trail):
            rotated = ops[k % len(ops) :] + ops[: k % len(ops)]
            variant = self._derive(family, 0, rotated, from_base, ctx, rng, seen, walk=None)
            if variant is not None:
                family.append(variant)
        steady = [op for op in ops if self.mutators[op].meaning_preserving]
        for walk in range(self.walks):
            parent_index = 0
            for _ in range(self.walk_depth):
                step = self._derive(
                    family,
                    parent_index,
                    rng.sample(steady, len(steady)),
                    from_base if parent_index == 0 else {},
                    ctx,
                    rng,
                    seen,
                    walk=walk,
                )
                if step is None:
                    break
                family.append(step)
                parent_index = len(family) - 1
        return family
