"""The pipeline: recipe -> plan of base trails -> families -> rows, in shards (pure and seeded).

`plan` enumerates work items (which frame, stage, role, view); `build_rows` turns a shard of work
items into rows. Both are pure functions of the recipe, its input files and the seed; the engine
that runs the shards (here a process pool) cannot change a single byte of the result.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from itertools import product
from typing import Any, Sequence

import pyarrow as pa

from .configs import trails_schema
from .content import Content, Frame, load_content
from .curriculum import FamilyGrower, Member, MutationStats, rarity
from .errors import RecipeError
from .grammar import Chain, Grammar, load_grammar
from .mutate import MUTATORS, MutationContext, MutatorSetup, prepare_mutators
from .recipe import Recipe
from .render import Renderer, Step, Trail, TrailSpec
from .seeding import item_rng, stable_hash, unit_interval
from .tokenize import Tokenizer, load_tokenizers

#: Families per shard: small enough for a smooth progress bar and bounded worker memory, large
#: enough to amortise overhead. The shard size changes the work units, never the output bytes.
SHARD_SIZE = 256
#: How many phrasings each role template offers (voices are drawn below this; the shipped roles
#: pair 5 intros with 4 outros: intro `variant % 5`, outro `variant // 5 % 4`).
VOICES = 20


@dataclass(frozen=True)
class WorkItem:
    """One base trail to render and grow into a family."""

    stage: int
    domain: str
    frame_id: str
    role: str
    view: str
    voice: int
    key: str  # stable hash: orders items for --limit and names the family
    broken: bool = False  # a judging role examines this chain with a conclusion that does not follow


@dataclass
class Inputs:
    """Everything loaded from the recipe's files, ready for building."""

    recipe: Recipe
    grammar: Grammar
    content: Content
    renderer: Renderer
    tokenizers: list[Tokenizer]
    splits: dict[tuple[str, str], str]  # (domain, frame id) -> split (see frame_splits)
    drift_model: Any = None  # a drift.model.DriftModel when the recipe sets max_drift
    difficulty_model: Any = None  # an lm.CausalScorer when the recipe orders by surprisal

    @property
    def files(self) -> list:
        return [*self.grammar.files, *self.content.files, *sorted(
            p for p in self.recipe.path(self.recipe.templates).rglob("*.j2"))]


def load_inputs(recipe: Recipe) -> Inputs:
    """Load and cross-check every input the recipe names (fails before anything is written)."""
    grammar = load_grammar(recipe.grammar_paths)
    missing_stages = [s for s in recipe.stages if s not in grammar.stages]
    if missing_stages:
        raise RecipeError(f"stages {missing_stages} are not defined by the grammars",
                          file=recipe.base_dir / "trailforge.yaml",
                          hint=f"defined stages: {sorted(grammar.stages)}")
    domains = None if recipe.domains == "all" else list(recipe.domains)
    content = load_content(recipe.path(recipe.content), domains, frozenset(grammar.relations),
                           allow_none=recipe.worlds is not None)  # a worlds-only recipe
    if recipe.worlds is not None:
        content = with_worlds(content, recipe)
    unknown_stage_domains = sorted({d for p in recipe.curriculum if p.domains != "all"
                                    for d in p.domains if d not in content.domains})
    if unknown_stage_domains:
        raise RecipeError(f"curriculum names domains {unknown_stage_domains} that are not loaded",
                          hint=f"loaded: {', '.join(sorted(content.domains))}")
    unknown_ood = [d for d in recipe.ood.domains if d not in content.domains]
    if unknown_ood:
        raise RecipeError(f"ood.domains {unknown_ood} are not loaded domains",
                          hint=f"loaded: {', '.join(sorted(content.domains))}")
    unknown_ops = [m for m in recipe.mutators if m not in MUTATORS]
    if unknown_ops:
        raise RecipeError(f"unknown mutators {unknown_ops}",
                          hint=f"available: {', '.join(MUTATORS)}")
    renderer = Renderer(recipe.path(recipe.templates),
                        {name: d.title for name, d in content.domains.items()})
    for role in recipe.roles:
        renderer.register(role, grammar.relations)  # a role's own connectives are checked here
        for view in recipe.views:
            probe = TrailSpec(stage=0, chain="probe", domain=next(iter(content.domains)),
                              frame_id="probe", role=role, view=view, voice=0)
            renderer.render(probe, (
                Step("premise", "premise", "given", "Suppose", "a probe holds"),
                Step("conclusion", "conclusion", "concludes", "Therefore,", "it holds")))
    tokenizers = load_tokenizers(recipe.tokenizers, recipe.base_dir)
    drift_model = None
    if recipe.max_drift is not None:
        from .drift.model import DriftModel

        drift_model = DriftModel(recipe.max_drift.model, device="cpu")
        if recipe.max_drift.measure not in drift_model.measures:
            raise RecipeError(f"max_drift.measure {recipe.max_drift.measure!r} is not measured by "
                              f"{recipe.max_drift.model!r}",
                              hint=f"use one of {', '.join(drift_model.measures)}")
    difficulty_model = None
    if recipe.difficulty.by == "surprisal":
        from .lm import CausalScorer

        spec = recipe.difficulty.model or ""
        difficulty_model = CausalScorer(spec if spec.startswith("hf:") else str(recipe.path(spec)),
                                        purpose="difficulty: {by: surprisal}", device="cpu")
    return Inputs(recipe=recipe, grammar=grammar, content=content, renderer=renderer,
                  tokenizers=tokenizers, splits=frame_splits(recipe, content),
                  drift_model=drift_model, difficulty_model=difficulty_model)


def with_worlds(content: Content, recipe: Recipe) -> Content:
    """`content` with a `worlds` domain of generated frames (and its word banks as an input)."""
    from .worlds.generate import load_banks, world_domain

    if "worlds" in content.domains:
        raise RecipeError("a curated domain is named `worlds`, the name of generated frames",
                          file=recipe.base_dir / "trailforge.yaml",
                          hint="rename content/domains/worlds.yaml")
    worlds = recipe.worlds
    assert worlds is not None, "called only for a recipe with worlds"
    path = recipe.path(worlds.banks)
    domain = world_domain(load_banks(path), recipe.seed, worlds.frames, worlds.ood_frames)
    return replace(content, domains={**content.domains, "worlds": domain},
                   files=content.files + (path,))


def drop_drifting(family: list[Member], inputs: Inputs, stats: MutationStats) -> list[Member]:
    """The family without variants whose shift from their parent exceeds `max_drift.limit`, nor
    anything derived from them; drops are counted as rejections (`over_drift`)."""
    from .drift.model import Pair

    max_drift = inputs.recipe.max_drift
    assert max_drift is not None, "called only when the recipe sets max_drift"
    limit, measure = max_drift.limit, max_drift.measure
    children = family[1:]
    parents = [m.parent or 0 for m in children]  # every variant has a parent (the base is 0)
    pairs = [Pair(family[p].trail.prompt, family[p].trail.completion,
                  m.trail.prompt, m.trail.completion) for m, p in zip(children, parents)]
    shifts = [r[measure] for r in inputs.drift_model.measure(pairs)] if pairs else []
    keep = [True]
    for member, parent, shift in zip(children, parents, shifts):
        keep.append(keep[parent] and shift <= limit)
        if not keep[-1]:
            op = member.op or ""
            stats.kept[op] -= 1
            reason = "over_drift" if keep[parent] else "parent_dropped"
            stats.rejected[op][reason] += 1
    new_index = {}
    kept: list[Member] = []
    for index, (member, ok) in enumerate(zip(family, keep)):
        if ok:
            new_index[index] = len(kept)
            kept.append(replace(member, parent=None if member.parent is None
                                else new_index[member.parent]))
    return kept


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
    for gene in recipe.curriculum:
        stage, chain = gene.stage, inputs.grammar.stages[gene.stage]
        per_frame = gene.trails_per_frame or recipe.trails_per_frame
        for domain in inputs.content.domains.values():
            if gene.domains != "all" and domain.name not in gene.domains:
                continue
            for frame in domain.frames:
                if not _usable(frame, chain) or (frame.logic is not None
                                                 and stage not in world_stages(recipe, frame)):
                    continue
                rng = item_rng(recipe.seed, "renderings", stage, domain.name, frame.id)
                picks = rng.sample(combos, min(per_frame, len(combos)))
                can_break = bool(wrong_conclusions(frame, stage, chain))
                for role, view in picks:
                    voice = rng.randrange(VOICES)
                    role_breaks = can_break and role in judges and rng.random() < recipe.broken_share
                    key = stable_hash(recipe.seed, stage, chain.qualified_name, domain.name,
                                      frame.id, role, view, voice, *(["broken"] if role_breaks else []))
                    items.append(WorkItem(stage, domain.name, frame.id, role, view, voice, key,
                                          broken=role_breaks))
    items.sort(key=lambda item: item.key)
    return items[: recipe.limit] if recipe.limit else items


def shards(items: Sequence[WorkItem], size: int | None = None) -> list[list[WorkItem]]:
    size = size or SHARD_SIZE
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


def frame_splits(recipe: Recipe, content: Content) -> dict[tuple[str, str], str]:
    """The split of every frame, stratified by domain: a domain's frames are ranked by a stable
    hash and cut by the split proportions, so each domain with enough frames reaches every split
    (a frame's families, and so every family, stay in one split)."""
    names = list(recipe.splits)
    bounds = []
    total = 0.0
    for name in names:
        total += recipe.splits[name]
        bounds.append(total)
    splits = {}
    for domain in content.domains.values():
        ranked = sorted((f for f in domain.frames if not f.held_out),
                        key=lambda f: unit_interval(recipe.seed, "split", domain.name, f.id))
        for rank, frame in enumerate(ranked):
            position = (rank + 0.5) / len(ranked)
            splits[domain.name, frame.id] = next(
                (n for n, b in zip(names, bounds) if position < b), names[-1])
    return splits


def split_of(recipe: Recipe, item: WorkItem, splits: dict[tuple[str, str], str]) -> str:
    """The split of an item's family: held-out ground goes to `ood`, the rest by its frame."""
    ood = recipe.ood
    if item.domain in ood.domains or item.role in ood.roles or item.view in ood.views \
            or (item.domain, item.frame_id) not in splits:
        return "ood"
    return splits[item.domain, item.frame_id]


def row_id(family_id: str, parent_id: str | None, op: str | None, detail: str | None, text: str,
           label_flipped: bool) -> str:
    """A row's id: a content hash of the fields that define it (stable across runs)."""
    return stable_hash("row", family_id, parent_id, op, detail, text, label_flipped)[:32]


class TrailsColumns:
    """The `trails` rows of a shard, gathered column by column: Arrow builds whole columns many
    times faster than it converts row dicts, and nested columns are assembled from flat lists."""

    SCALARS = ("id", "family_id", "parent_id", "depth", "walk", "split", "stage", "rarity",
               "grammar", "domain", "role", "view", "frame_id", "template_id", "text", "prompt",
               "completion", "conclusion", "valid", "expected", "logic", "label_flipped",
               "char_distance")

    def __init__(self, labels: Sequence[str]) -> None:
        self.labels = list(labels)
        self.columns: dict[str, list[Any]] = {name: [] for name in self.SCALARS}
        self.step_offsets = [0]
        self.steps: tuple[list, ...] = ([], [], [], [], [])  # kind, relation, connective, text, distractor
        self.ops: list[str | None] = []
        self.details: list[str | None] = []
        self.per_tokenizer: dict[str, list[tuple[int, ...] | None]] = {
            "token_distance": [], "base_token_distance": [], "n_tokens": []}

    def add_family(self, family: Sequence[Member], family_id: str, split: str, item: WorkItem,
                   chain: Chain, family_rarity: float, frame: Frame) -> None:
        row_ids: list[str] = []
        programs: dict[tuple, str] = {}  # a world frame's logic JSON per (fields shown, flip)
        scalars = [self.columns[name] for name in self.SCALARS]
        for member in family:
            trail = member.trail
            parent = None if member.parent is None else row_ids[member.parent]
            row_ids.append(row_id(family_id, parent, member.op, member.detail, trail.text,
                                  member.label_flipped))
            valid = not item.broken
            expected = trail.conclusion if valid else frame.fields[trail.steps[-1].field]
            logic = None
            if frame.logic is not None:  # solved once per program shown, not once per row
                shown = (tuple(s.field for s in trail.steps), member.flip)
                if shown not in programs:
                    programs[shown] = frame.logic.row_json(*shown)
                logic = programs[shown]
            values = (row_ids[-1], family_id, parent, member.depth, member.walk, split, item.stage,
                      family_rarity, chain.qualified_name, item.domain, item.role, item.view,
                      item.frame_id, trail.template_id, trail.text, trail.prompt, trail.completion,
                      trail.conclusion, valid, expected, logic, member.label_flipped,
                      member.char_distance)
            for column, value in zip(scalars, values):  # in SCALARS order
                column.append(value)
            for step in trail.steps:
                self.steps[0].append(step.kind)
                self.steps[1].append(step.relation)
                self.steps[2].append(step.connective)
                self.steps[3].append(step.text)
                self.steps[4].append(step.field in frame.distractors)
            self.step_offsets.append(len(self.steps[0]))
            self.ops.append(member.op)
            self.details.append(member.detail)
            self.per_tokenizer["token_distance"].append(member.distance)
            self.per_tokenizer["base_token_distance"].append(member.base_distance)
            self.per_tokenizer["n_tokens"].append(tuple(len(ids) for ids in member.ids))

    def _per_tokenizer(self, values: list[tuple[int, ...] | None]) -> pa.StructArray:
        missing = [v is None for v in values]
        fields = [pa.array([None if v is None else v[i] for v in values], pa.int32())
                  for i in range(len(self.labels))]
        return pa.StructArray.from_arrays(fields, names=self.labels, mask=pa.array(missing))

    def table(self) -> pa.Table:
        """The rows as a table of the `trails` schema, in the order they were added."""
        schema = trails_schema(self.labels)
        arrays: dict[str, pa.Array] = {
            name: pa.array(values, schema.field(name).type) for name, values in self.columns.items()}
        steps_type = schema.field("steps").type.value_type
        arrays["steps"] = pa.ListArray.from_arrays(
            pa.array(self.step_offsets, pa.int32()),
            pa.StructArray.from_arrays([pa.array(v, f.type) for v, f in zip(self.steps, steps_type)],
                                       fields=list(steps_type)))
        arrays["mutation"] = pa.StructArray.from_arrays(
            [pa.array(self.ops, pa.string()), pa.array(self.details, pa.string())],
            names=["op", "detail"], mask=pa.array([op is None for op in self.ops]))
        for name, values in self.per_tokenizer.items():
            arrays[name] = self._per_tokenizer(values)
        return pa.Table.from_arrays([arrays[name] for name in schema.names], schema=schema)


def base_steps(chain: Chain, frame: Frame, ctx: MutationContext,
               rng: random.Random) -> tuple[Step, ...]:
    """A chain's steps filled from a frame: each step's relation (the frame's, else the slot's)
    and a connective of that relation drawn from `rng`, none repeated within the trail. A
    distractor stands right before the complication, so no inferred step seems to follow from it."""
    slots = [s for s in chain.slots if s.field in frame.fields]
    contrast = next((i for i, s in enumerate(slots) if s.kind == "complication"), None)
    if contrast is not None and any(s.field in frame.distractors for s in slots[:contrast]):
        moved = [s for s in slots[:contrast] if s.field in frame.distractors]
        slots = [s for s in slots[:contrast] if s.field not in frame.distractors] + moved \
            + slots[contrast:]
    steps: tuple[Step, ...] = ()
    for slot in slots:
        relation = frame.relations.get(slot.field, slot.relation)
        step = Step(kind=slot.kind, field=slot.field, relation=relation, connective="",
                    text=frame.fields[slot.field])
        steps += (step,)
        choices = ctx.connectives(steps, len(steps) - 1, relation) or ctx.relations[relation]
        steps = steps[:-1] + (step._replace(connective=rng.choice(choices)),)
    return steps


def base_trail(inputs: Inputs, item: WorkItem, rng: random.Random) -> tuple[Trail, MutationContext]:
    """Render an item's base trail (connectives drawn from `rng`) and its mutation context."""
    chain = inputs.grammar.stages[item.stage]
    domain = inputs.content.domains[item.domain]
    frame = domain.frame(item.frame_id)
    relations = inputs.renderer.register(item.role, inputs.grammar.relations)
    ctx = MutationContext(frame=frame, domain=domain, relations=relations, valid=not item.broken)
    spec = TrailSpec(stage=item.stage, chain=chain.name, domain=item.domain,
                     frame_id=item.frame_id, role=item.role, view=item.view, voice=item.voice,
                     valid=not item.broken)
    steps = base_steps(chain, frame, ctx, rng)
    if item.broken:  # the chain as it is, closed by a conclusion that does not follow
        wrong = rng.choice(wrong_conclusions(frame, item.stage, chain))
        steps = steps[:-1] + (steps[-1]._replace(text=wrong),)
    return inputs.renderer.render(spec, steps), ctx


def build_rows(inputs: Inputs, items: Sequence[WorkItem]) -> tuple[pa.Table, MutationStats]:
    """The `trails` rows of the families of `items`, family by family (a pure function of the
    inputs and the items)."""
    recipe = inputs.recipe
    mutators = prepare_mutators(recipe.mutators, MutatorSetup(recipe, inputs.content.lexicon))
    grower = FamilyGrower(inputs.renderer, inputs.tokenizers, mutators,
                          recipe.max_token_distance, recipe.variants_per_trail, recipe.walks,
                          recipe.walk_depth, flip_bound=recipe.max_flip_distance)
    rows = TrailsColumns([t.label for t in inputs.tokenizers])
    splits = inputs.splits
    for item in items:
        rng = item_rng(recipe.seed, "family", item.key)
        base, ctx = base_trail(inputs, item, rng)
        family = grower.grow(base, ctx, rng)
        if inputs.drift_model is not None:
            family = drop_drifting(family, inputs, grower.stats)
        rows.add_family(family, stable_hash("family", item.key, base.text)[:16],
                        split_of(recipe, item, splits), item, inputs.grammar.stages[item.stage],
                        difficulty(inputs, family[0]), ctx.frame)
    return rows.table(), grower.stats


def difficulty(inputs: Inputs, base: Member) -> float:
    """The base trail's place within its stage, easiest first (the recipe's `difficulty`): the
    token-id proxy under the first tokenizer, or its mean surprisal under the recipe's model."""
    if inputs.difficulty_model is not None:
        return round(inputs.difficulty_model.surprisal(base.trail.text), 6)
    return rarity(base.ids[0], inputs.tokenizers[0].vocab_size)
