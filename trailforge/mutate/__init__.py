"""Mutators: each proposes micro-edits of a trail; a registry maps op names to them.

To add a mutator, write a module here with a class that has `op`, `meaning_preserving` and
`propose(trail, ctx, rng)` (see `base.Mutator`), and register it in `MUTATORS`.
"""

from __future__ import annotations

from .anchor import AnchorMutator
from .base import Edit, MutationContext, Mutator
from .connective import ConnectiveMutator
from .filler import FillerMutator
from .flip import FlipMutator
from .synonym import SynonymMutator

MUTATORS: dict[str, type] = {
    "anchor": AnchorMutator,
    "synonym": SynonymMutator,
    "connective": ConnectiveMutator,
    "filler": FillerMutator,
    "flip": FlipMutator,
}

__all__ = ["Edit", "MutationContext", "Mutator", "MUTATORS"]
