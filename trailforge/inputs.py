"""The inputs of a build: everything the recipe names, loaded and cross-checked before anything
is written (grammar, content and worlds, templates, tokenizers, the models it asks for)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from .content import Content, load_content
from .errors import RecipeError, TokenizerError
from .grammar import Grammar, load_grammar
from .mutate import MUTATORS
from .recipe import Recipe
from .render import Renderer, Step, TrailSpec
from .seeding import unit_interval
from .tokenize import Tokenizer, load_tokenizers


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
        return [
            *self.grammar.files,
            *self.content.files,
            *sorted(p for p in self.recipe.path(self.recipe.templates).rglob("*.j2")),
        ]


def load_inputs(recipe: Recipe) -> Inputs:
    """Load and cross-check every input the recipe names (fails before anything is written)."""
    grammar = load_grammar(recipe.grammar_paths)
    missing_stages = [s for s in recipe.stages if s not in grammar.stages]
    if missing_stages:
        raise RecipeError(
            f"stages {missing_stages} are not defined by the grammars",
            **recipe.where("curriculum"),
            hint=f"defined stages: {sorted(grammar.stages)}",
        )
    domains = None if recipe.domains == "all" else list(recipe.domains)
    content = load_content(
        recipe.path(recipe.content),
        domains,
        frozenset(grammar.relations),
        allow_none=recipe.worlds is not None,  # a worlds-only recipe
    )
    if recipe.worlds is not None:
        content = with_worlds(content, recipe)
    unknown_stage_domains = sorted(
        {
            d
            for p in recipe.curriculum
            if p.domains != "all"
            for d in p.domains
            if d not in content.domains
        }
    )
    if unknown_stage_domains:
        raise RecipeError(
            f"curriculum names domains {unknown_stage_domains} that are not loaded",
            **recipe.where("curriculum"),
            hint=f"loaded: {', '.join(sorted(content.domains))}",
        )
    unknown_ood = [d for d in recipe.ood.domains if d not in content.domains]
    if unknown_ood:
        raise RecipeError(
            f"ood.domains {unknown_ood} are not loaded domains",
            **recipe.where("ood", "domains"),
            hint=f"loaded: {', '.join(sorted(content.domains))}",
        )
    unknown_ops = MUTATORS.unknown(recipe.mutators)
    if unknown_ops:
        raise RecipeError(
            f"unknown mutators {unknown_ops}",
            **recipe.where("mutators"),
            hint=MUTATORS.hint(),
        )
    renderer = Renderer(
        recipe.path(recipe.templates), {name: d.title for name, d in content.domains.items()}
    )
    for role in recipe.roles:
        renderer.register(role, grammar.relations)  # a role's own connectives are checked here
        for view in recipe.views:
            probe = TrailSpec(
                stage=0,
                chain="probe",
                domain=next(iter(content.domains)),
                frame_id="probe",
                role=role,
                view=view,
                voice=0,
            )
            renderer.render(
                probe,
                (
                    Step("premise", "premise", "given", "Suppose", "a probe holds"),
                    Step("conclusion", "conclusion", "concludes", "Therefore,", "it holds"),
                ),
            )
    try:
        tokenizers = load_tokenizers(recipe.tokenizers, recipe.base_dir)
    except TokenizerError as exc:
        if exc.file is not None:
            raise
        raise TokenizerError(exc.message, **recipe.where("tokenizers"), hint=exc.hint) from None
    drift_model = None
    if recipe.max_drift is not None:
        from .drift.model import DriftModel

        drift_model = DriftModel(recipe.max_drift.model, device="cpu")
        if recipe.max_drift.measure not in drift_model.measures:
            raise RecipeError(
                f"max_drift.measure {recipe.max_drift.measure!r} is not measured by "
                f"{recipe.max_drift.model!r}",
                hint=f"use one of {', '.join(drift_model.measures)}",
            )
    difficulty_model = None
    if recipe.difficulty.by == "surprisal":
        from .lm import CausalScorer

        spec = recipe.difficulty.model or ""
        difficulty_model = CausalScorer(
            spec if spec.startswith("hf:") else str(recipe.path(spec)),
            purpose="difficulty: {by: surprisal}",
            device="cpu",
        )
    return Inputs(
        recipe=recipe,
        grammar=grammar,
        content=content,
        renderer=renderer,
        tokenizers=tokenizers,
        splits=frame_splits(recipe, content),
        drift_model=drift_model,
        difficulty_model=difficulty_model,
    )


def with_worlds(content: Content, recipe: Recipe) -> Content:
    """`content` with a `worlds` domain of generated frames (and its word banks as an input)."""
    from .worlds.generate import load_banks, world_domain

    if "worlds" in content.domains:
        raise RecipeError(
            "a curated domain is named `worlds`, the name of generated frames",
            file=recipe.source,
            hint="rename content/domains/worlds.yaml",
        )
    worlds = recipe.worlds
    assert worlds is not None, "called only for a recipe with worlds"
    path = recipe.path(worlds.banks)
    domain = world_domain(load_banks(path), recipe.seed, worlds.frames, worlds.ood_frames)
    return replace(
        content, domains={**content.domains, "worlds": domain}, files=content.files + (path,)
    )


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
        ranked = sorted(  # ids, not frames: a generated domain makes no frame for this
            domain.split_frame_ids(),
            key=lambda frame_id: unit_interval(recipe.seed, "split", domain.name, frame_id),
        )
        for rank, frame_id in enumerate(ranked):
            position = (rank + 0.5) / len(ranked)
            splits[domain.name, frame_id] = next(
                (n for n, b in zip(names, bounds) if position < b), names[-1]
            )
    return splits
