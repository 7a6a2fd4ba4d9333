"""The plan of a build: every base trail to render (a work item), which split its family goes to,
and how the items are cut into shards. A pure function of the inputs."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product
from typing import Sequence

from .content import Frame
from .grammar import Chain
from .inputs import Inputs
from .recipe import Recipe
from .render import TrailOrigin
from .seeding import item_rng, stable_hash

#: Families per shard: small enough for a smooth progress bar and bounded worker memory, large
#: enough to amortise overhead. The shard size changes the work units, never the output bytes.
SHARD_SIZE = 256
#: How many phrasings each role template offers (voices are drawn below this; the shipped roles
#: pair 5 intros with 4 outros: intro `variant % 5`, outro `variant // 5 % 4`).
VOICES = 20


@dataclass(frozen=True)
class WorkItem(TrailOrigin):
    """One base trail to render and grow into a family: its origin (stage, domain, frame, role,
    view, voice), its key, and whether it is a broken chain."""

    key: str  # stable hash: orders items for --limit and names the family
    # True: a judging role examines this chain with a conclusion that does not follow
    broken: bool = False


def _usable(frame: Frame, chain: Chain) -> bool:
    return all(s.field in frame.fields for s in chain.slots if not s.optional)


def wrong_conclusions(frame: Frame, stage: int, chain: Chain) -> list[str]:
    """Conclusions that do *not* follow from a stage's chain of `frame`: the flipped conclusion on
    the unflipped chain; for a world frame also the conclusion of the stage before, which ignores
    the last given step (the solver says it no longer holds; a curated frame's earlier
    conclusion may still be true, so it is never used)."""
    fields = [s.field for s in chain.slots if s.field in frame.fields]
    field = fields[-1]
    wrong = [f.conclusions[field] for f in frame.flips if f.applies(stage, fields)]
    earlier = {"blocked": "conclusion", "resolved": "blocked"}.get(field)
    if frame.logic is not None and earlier in frame.fields:
        wrong.append(frame.fields[earlier])
    return [w for w in dict.fromkeys(wrong) if w != frame.fields[field]]


def world_stages(recipe: Recipe, frame: Frame) -> list[int]:
    """The curriculum stages a world frame is rendered at: all, or `worlds.stages_per_frame` of
    them drawn per frame (many distinct worlds for the rows of few)."""
    count = recipe.worlds.stages_per_frame if recipe.worlds else None
    if count is None or count >= len(recipe.stages):
        return recipe.stages
    return item_rng(recipe.seed, "world-stages", frame.id).sample(recipe.stages, count)


def plan(inputs: Inputs) -> list[WorkItem]:
    """Every base trail of the build, in a stable pseudo-random order (a prefix is a fair sample).
    A share (`broken_share`) of the renderings by a judging role (one whose template defines
    `reject`) shows a conclusion that does not follow, which the role rejects."""
    recipe = inputs.recipe
    combos = list(product(recipe.roles, recipe.views))
    judges = {role for role in recipe.roles if inputs.renderer.judges(role)}
    items = []
    for domain in inputs.content.domains.values():
        genes = [g for g in recipe.curriculum if g.domains == "all" or domain.name in g.domains]
        for frame in domain.frames:  # each frame once: a generated domain makes it per visit
            for gene in genes:
                stage, chain = gene.stage, inputs.grammar.stages[gene.stage]
                per_frame = gene.trails_per_frame or recipe.trails_per_frame
                if not _usable(frame, chain) or (
                    frame.logic is not None and stage not in world_stages(recipe, frame)
                ):
                    continue
                rng = item_rng(recipe.seed, "renderings", stage, domain.name, frame.id)
                picks = rng.sample(combos, min(per_frame, len(combos)))
                can_break = bool(wrong_conclusions(frame, stage, chain))
                for role, view in picks:
                    voice = rng.randrange(VOICES)
                    role_breaks = (
                        can_break and role in judges and rng.random() < recipe.broken_share
                    )
                    key = stable_hash(
                        recipe.seed,
                        stage,
                        chain.qualified_name,
                        domain.name,
                        frame.id,
                        role,
                        view,
                        voice,
                        *(["broken"] if role_breaks else []),
                    )
                    items.append(
                        WorkItem(
                            stage, domain.name, frame.id, role, view, voice, key, broken=role_breaks
                        )
                    )
    items.sort(key=lambda item: item.key)
    return items[: recipe.limit] if recipe.limit else items


def shards(items: Sequence[WorkItem], size: int | None = None) -> list[list[WorkItem]]:
    size = size or SHARD_SIZE
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def split_of(recipe: Recipe, item: WorkItem, splits: dict[tuple[str, str], str]) -> str:
    """The split of an item's family: held-out ground goes to `ood`, the rest by its frame."""
    ood = recipe.ood
    if (
        item.domain in ood.domains
        or item.role in ood.roles
        or item.view in ood.views
        or (item.domain, item.frame_id) not in splits
    ):
        return "ood"
    return splits[item.domain, item.frame_id]
