"""Mutators: each proposes micro-edits of a trail; a registry maps op names to them.

To add a mutator, write a module here with a class that has `op`, `description`,
`meaning_preserving`, `prepared(setup)` (its own set-up from the recipe and content, once per
build; `NeedsNoSetup` where there is none) and `propose(trail, ctx, rng)` (see `base.Mutator`),
and register it in `MUTATORS` (a `registry.Registry`: op -> the class).
"""

from __future__ import annotations

from typing import Sequence

from ..errors import RecipeError
from ..registry import Registry
from .anchor import AnchorMutator
from .base import Edit, MutationContext, Mutator, MutatorSetup
from .connective import ConnectiveMutator
from .filler import FillerMutator
from .flip import FlipMutator
from .synonym import SynonymMutator

MUTATORS: Registry[type[Mutator]] = Registry(
    "mutator",
    {
        "anchor": AnchorMutator,
        "synonym": SynonymMutator,
        "connective": ConnectiveMutator,
        "filler": FillerMutator,
        "flip": FlipMutator,
    },
    RecipeError,  # the recipe's `mutators:` names them
)


def prepare_mutators(ops: Sequence[str], setup: MutatorSetup) -> dict[str, Mutator]:
    """The recipe's mutators, each set up by itself for this build, by op."""
    return {op: MUTATORS.lookup(op).prepared(setup) for op in ops}


__all__ = ["Edit", "MutationContext", "Mutator", "MutatorSetup", "MUTATORS", "prepare_mutators"]
