"""Rows of a build: a shard's work items (plan.py) become base trails, families (family.py) and
the columns of the `trails` table. A pure function of the inputs and the items; the engine that
runs the shards cannot change a single byte of the result."""

from __future__ import annotations

import random
from dataclasses import replace
from itertools import accumulate
from itertools import chain as concatenated
from typing import Sequence

import pyarrow as pa

from .configs import row_id, trails_schema
from .content import Frame
from .family import FamilyGrower, Member, MutationStats, rarity
from .grammar import Chain
from .inputs import Inputs
from .mutate import MutationContext, MutatorSetup, prepare_mutators
from .plan import WorkItem, split_of, wrong_conclusions
from .render import Step, Trail, TrailSpec
from .seeding import item_rng, stable_hash


def drop_drifting(family: list[Member], inputs: Inputs, stats: MutationStats) -> list[Member]:
    """The family without variants whose shift from their parent exceeds `max_drift.limit`, nor
    anything derived from them; drops are counted as rejections (`over_drift`)."""
    from .drift.model import Pair

    max_drift = inputs.recipe.max_drift
    assert max_drift is not None, "called only when the recipe sets max_drift"
    limit, measure = max_drift.limit, max_drift.measure
    children = family[1:]
    parents = [m.parent or 0 for m in children]  # every variant has a parent (the base is 0)
    pairs = [
        Pair(family[p].trail.prompt, family[p].trail.completion, m.trail.prompt, m.trail.completion)
        for m, p in zip(children, parents)
    ]
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
            kept.append(
                replace(member, parent=None if member.parent is None else new_index[member.parent])
            )
    return kept


class TrailsColumns:
    """The `trails` rows of a shard: one tuple a row as families arrive, transposed into columns
    at the end (Arrow builds whole columns many times faster than it converts row dicts, and
    nested columns are assembled from flat lists)."""

    #: Columns the same for every row of a family: converted once per family, then repeated.
    FAMILY_SCALARS = (
        "family_id",
        "split",
        "stage",
        "rarity",
        "grammar",
        "domain",
        "role",
        "view",
        "frame_id",
        "template_id",
        "valid",
    )
    #: Columns of each row.
    SCALARS = (
        "id",
        "parent_id",
        "depth",
        "walk",
        "text",
        "prompt",
        "completion",
        "conclusion",
        "expected",
        "logic",
        "label_flipped",
        "char_distance",
    )

    def __init__(self, labels: Sequence[str]) -> None:
        self.labels = list(labels)
        self.families: list[tuple] = []  # one tuple of FAMILY_SCALARS values a family
        self.family_of_row: list[int] = []  # each row's family, an index into `families`
        self.rows: list[tuple] = []  # one tuple of SCALARS values a row, transposed in `table`
        self.steps: list[tuple[Step, ...]] = []  # each row's steps
        self.distractors: list[frozenset[str]] = []  # each row's frame's distractor fields
        self.mutations: list[tuple[str | None, str | None]] = []  # (op, detail)
        # token_distance, base_token_distance, n_tokens: a tuple per row (None for a base)
        self.per_tokenizer: list[tuple] = []

    def add_family(
        self,
        family: Sequence[Member],
        family_id: str,
        split: str,
        item: WorkItem,
        chain: Chain,
        family_rarity: float,
        frame: Frame,
    ) -> None:
        row_ids: list[str] = []
        programs: dict[tuple, str] = {}  # a world frame's logic JSON per (fields shown, flip)
        valid = not item.broken
        self.family_of_row += [len(self.families)] * len(family)
        self.families.append(
            (  # in FAMILY_SCALARS order
                family_id,
                split,
                item.stage,
                family_rarity,
                chain.qualified_name,
                item.domain,
                item.role,
                item.view,
                item.frame_id,
                family[0].trail.template_id,  # a family's members share their base's spec
                valid,
            )
        )
        for member in family:
            trail = member.trail
            parent = None if member.parent is None else row_ids[member.parent]
            row_ids.append(
                row_id(
                    family_id, parent, member.op, member.detail, trail.text, member.label_flipped
                )
            )
            expected = trail.conclusion if valid else frame.fields[trail.steps[-1].field]
            logic = None
            if frame.logic is not None:  # solved once per program shown, not once per row
                shown = (tuple(s.field for s in trail.steps), member.flip)
                if shown not in programs:
                    programs[shown] = frame.logic.row_json(*shown)
                logic = programs[shown]
            self.rows.append(
                (  # in SCALARS order
                    row_ids[-1],
                    parent,
                    member.depth,
                    member.walk,
                    trail.text,
                    trail.prompt,
                    trail.completion,
                    trail.conclusion,
                    expected,
                    logic,
                    member.label_flipped,
                    member.char_distance,
                )
            )
            self.steps.append(trail.steps)
            self.distractors.append(frame.distractors)
            self.mutations.append((member.op, member.detail))
            self.per_tokenizer.append(
                (member.distance, member.base_distance, tuple([len(e.ids) for e in member.encoded]))
            )

    def _per_tokenizer(self, values: list[tuple[int, ...] | None]) -> pa.StructArray:
        missing = [v is None for v in values]
        fields = [
            pa.array([None if v is None else v[i] for v in values], pa.int32())
            for i in range(len(self.labels))
        ]
        return pa.StructArray.from_arrays(
            fields, names=self.labels, mask=pa.array(missing, pa.bool_())
        )

    def table(self) -> pa.Table:
        """The rows as a table of the `trails` schema, in the order they were added."""
        schema = trails_schema(self.labels)
        columns = list(zip(*self.rows)) or [()] * len(self.SCALARS)
        arrays: dict[str, pa.Array] = {
            name: pa.array(values, schema.field(name).type)
            for name, values in zip(self.SCALARS, columns)
        }
        family_columns = list(zip(*self.families)) or [()] * len(self.FAMILY_SCALARS)
        family_of_row = pa.array(self.family_of_row, pa.int32())
        for name, values in zip(self.FAMILY_SCALARS, family_columns):
            arrays[name] = pa.array(values, schema.field(name).type).take(family_of_row)
        steps_type = schema.field("steps").type.value_type
        flat = list(concatenated.from_iterable(self.steps))
        kind, _, relation, connective, text = zip(*flat) if flat else ((),) * 5
        distractor = [
            step.field in fields
            for steps, fields in zip(self.steps, self.distractors)
            for step in steps
        ]
        arrays["steps"] = pa.ListArray.from_arrays(
            pa.array([0, *accumulate(map(len, self.steps))], pa.int32()),
            pa.StructArray.from_arrays(
                [
                    pa.array(v, f.type)
                    for v, f in zip((kind, relation, connective, text, distractor), steps_type)
                ],
                fields=list(steps_type),
            ),
        )
        ops = [op for op, _ in self.mutations]
        arrays["mutation"] = pa.StructArray.from_arrays(
            [pa.array(ops, pa.string()), pa.array([d for _, d in self.mutations], pa.string())],
            names=["op", "detail"],
            mask=pa.array([op is None for op in ops], pa.bool_()),
        )
        by_tokenizer = list(zip(*self.per_tokenizer)) or [()] * 3
        for name, values in zip(
            ("token_distance", "base_token_distance", "n_tokens"), by_tokenizer
        ):
            arrays[name] = self._per_tokenizer(list(values))
        return pa.Table.from_arrays([arrays[name] for name in schema.names], schema=schema)


def base_steps(
    chain: Chain, frame: Frame, ctx: MutationContext, rng: random.Random
) -> tuple[Step, ...]:
    """A chain's steps filled from a frame: each step's relation (the frame's, else the slot's)
    and a connective of that relation drawn from `rng`, none repeated within the trail. A
    distractor stands right before the complication, so no inferred step seems to follow from it."""
    slots = [s for s in chain.slots if s.field in frame.fields]
    contrast = next((i for i, s in enumerate(slots) if s.kind == "complication"), None)
    if contrast is not None and any(s.field in frame.distractors for s in slots[:contrast]):
        moved = [s for s in slots[:contrast] if s.field in frame.distractors]
        slots = (
            [s for s in slots[:contrast] if s.field not in frame.distractors]
            + moved
            + slots[contrast:]
        )
    steps: tuple[Step, ...] = ()
    for slot in slots:
        relation = frame.relations.get(slot.field, slot.relation)
        step = Step(
            kind=slot.kind,
            field=slot.field,
            relation=relation,
            connective="",
            text=frame.fields[slot.field],
        )
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
    spec = TrailSpec.of(item, chain=chain.name, valid=not item.broken)
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
    grower = FamilyGrower(
        inputs.renderer,
        inputs.tokenizers,
        mutators,
        recipe.max_token_distance,
        recipe.variants_per_trail,
        recipe.walks,
        recipe.walk_depth,
        flip_bound=recipe.max_flip_distance,
    )
    rows = TrailsColumns([t.label for t in inputs.tokenizers])
    splits = inputs.splits
    for item in items:
        rng = item_rng(recipe.seed, "family", item.key)
        base, ctx = base_trail(inputs, item, rng)
        family = grower.grow(base, ctx, rng)
        if inputs.drift_model is not None:
            family = drop_drifting(family, inputs, grower.stats)
        rows.add_family(
            family,
            stable_hash("family", item.key, base.text)[:16],
            split_of(recipe, item, splits),
            item,
            inputs.grammar.stages[item.stage],
            difficulty(inputs, family[0]),
            ctx.frame,
        )
    return rows.table(), grower.stats


def difficulty(inputs: Inputs, base: Member) -> float:
    """The base trail's place within its stage, easiest first (the recipe's `difficulty`): the
    token-id proxy under the first tokenizer, or its mean surprisal under the recipe's model."""
    if inputs.difficulty_model is not None:
        return round(inputs.difficulty_model.surprisal(base.trail.text), 6)
    return rarity(base.ids[0], inputs.tokenizers[0].vocab_size)
