"""The default recipe, built whole as a user would: size, coverage, and every row re-tokenized."""

from __future__ import annotations

import json

from trailforge.dataset import read_table
from trailforge.distance import token_distance
from trailforge.recipe import load_recipe
from trailforge.tokenize import load_tokenizer

from .conftest import ROOT, variant_bound

RECIPE = ROOT / "trailforge.yaml"


def test_size_and_coverage(default_build):
    stats = default_build.stats
    assert default_build.rows >= 20_000
    assert set(stats["by_stage"]) == {"1", "2", "3", "4", "5"}
    assert (
        len(stats["by_domain"]) >= 12 and len(stats["by_role"]) >= 6 and len(stats["by_view"]) >= 4
    )
    # every mutator of the recipe keeps some variants
    assert set(stats["by_op"]) == {"base", *load_recipe(RECIPE).mutators}
    assert stats["distinct_base_trails"] == stats["families"]  # no two base trails are identical
    assert {"train", "validation", "test"} <= set(default_build.by_split)
    synonym = stats["mutations"]["synonym"]
    assert sum(synonym["kinds"].values()) == synonym["kept"] and synonym["kinds"]["word"] > 0


def test_flips_at_every_stage_and_every_domain_in_every_split(default_build):
    table = read_table(default_build.path).select(["split", "domain", "stage", "mutation"])
    rows = table.to_pylist()
    flipped_stages = {r["stage"] for r in rows if r["mutation"] and r["mutation"]["op"] == "flip"}
    assert flipped_stages == {1, 2, 3, 4, 5}
    for split in ("train", "validation", "test"):
        assert {r["domain"] for r in rows if r["split"] == split} == set(
            default_build.stats["by_domain"]
        ), split


def test_the_default_build_passes_lint(default_build):
    from trailforge.lint import lint

    findings = lint(load_recipe(RECIPE), default_build.path)
    assert not findings, "\n".join(map(str, findings[:20]))


def test_no_row_outside_the_bound_under_any_target_tokenizer(default_build):
    table = read_table(default_build.path)
    rows = table.select(["id", "parent_id", "text", "token_distance", "mutation"]).to_pylist()
    text_of = {r["id"]: r["text"] for r in rows}
    variants = [r for r in rows if r["parent_id"] is not None]
    manifest = json.loads((default_build.path / "manifest.json").read_text())
    recipe = load_recipe(RECIPE)
    for entry in manifest["tokenizers"]:
        tok = load_tokenizer(entry["spec"])
        assert tok.fingerprint == entry["fingerprint"]
        parents = tok.encode_batch([text_of[r["parent_id"]] for r in variants])
        children = tok.encode_batch([r["text"] for r in variants])
        for row, a, b in zip(variants, parents, children):
            d = token_distance(a, b)
            bound = variant_bound(recipe, row["mutation"]["op"])
            assert 1 <= d <= bound and d == row["token_distance"][tok.label], row["id"]


def test_every_prompt_tokenizes_as_a_prefix_of_prompt_plus_completion(default_build):
    """For every prompt/completion pair of every config (trails, prompt_completion, preference),
    under both default tokenizers: no trailing space, and tokens(prompt) prefix tokens(whole)."""
    pairs = [
        (r["prompt"], r["completion"])
        for r in read_table(default_build.path, "prompt_completion").to_pylist()
    ]
    pairs += [
        (r["prompt"], r["completion"])
        for r in read_table(default_build.path).select(["prompt", "completion"]).to_pylist()
    ]
    for r in read_table(default_build.path, "preference").to_pylist():
        pairs += [(r["prompt"], r["chosen"]), (r["prompt"], r["rejected"])]
    assert all(not p.endswith((" ", "\t")) for p, _ in pairs)
    for spec in ("o200k_base", "cl100k_base"):
        tok = load_tokenizer(spec)
        heads = tok.encode_batch([p for p, _ in pairs])
        wholes = tok.encode_batch([p + c for p, c in pairs])
        broken = [pairs[i] for i, (h, w) in enumerate(zip(heads, wholes)) if w[: len(h)] != h]
        assert not broken, (spec, len(broken), broken[:2])
