"""Mutators: each proposes micro-edits of a trail; a registry maps op names to them.

To add a mutator, write a module here with a class that has `op`, `meaning_preserving`,
`prepared(setup)` (its own set-up from the recipe and content, once per build; `NeedsNoSetup`
where there is none) and `propose(trail, ctx, rng)` (see `base.Mutator`), and register it in
`MUTATORS`.
"""

from __future__ import annotations

from typing import Sequence

from .anchor import AnchorMutator
from .base import Edit, MutationContext, Mutator, MutatorSetup
from .connective import ConnectiveMutator
from .filler import FillerMutator
from .flip import FlipMutator
from .synonym import SynonymMutator

MUTATORS: dict[str, type[Mutator]] = {
    "anchor": AnchorMutator,
    "synonym": SynonymMutator,
    "connective": ConnectiveMutator,
    "filler": FillerMutator,
    "flip": FlipMutator,
}


def prepare_mutators(ops: Sequence[str], setup: MutatorSetup) -> dict[str, Mutator]:
    """The recipe's mutators, each set up by itself for this build, by op."""
    return {op: MUTATORS[op].prepared(setup) for op in ops}


__all__ = ["Edit", "MutationContext", "Mutator", "MutatorSetup", "MUTATORS", "prepare_mutators"]
