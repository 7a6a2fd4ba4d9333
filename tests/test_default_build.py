"""The default recipe, built whole as a user would: size, coverage, and every row re-tokenized."""

from __future__ import annotations

import json

from trailforge.dataset import read_table
from trailforge.distance import token_distance
from trailforge.tokenize import load_tokenizer


def test_size_and_coverage(default_build):
    stats = default_build.stats
    assert default_build.rows >= 20_000
    assert set(stats["by_stage"]) == {"1", "2", "3", "4", "5"}
    assert len(stats["by_domain"]) >= 12 and len(stats["by_role"]) >= 6 and len(stats["by_view"]) >= 4
    assert set(stats["by_op"]) == {"base", "mark", "synonym", "connective", "filler", "flip"}
    assert stats["distinct_base_trails"] == stats["families"]  # no two base trails are identical
    assert {"train", "validation", "test"} <= set(default_build.by_split)


def test_no_row_outside_the_bound_under_any_target_tokenizer(default_build):
    table = read_table(default_build.path)
    rows = table.select(["id", "parent_id", "text", "token_distance"]).to_pylist()
    text_of = {r["id"]: r["text"] for r in rows}
    variants = [r for r in rows if r["parent_id"] is not None]
    manifest = json.loads((default_build.path / "manifest.json").read_text())
    for entry in manifest["tokenizers"]:
        tok = load_tokenizer(entry["spec"])
        assert tok.fingerprint == entry["fingerprint"]
        parents = tok.encode_batch([text_of[r["parent_id"]] for r in variants])
        children = tok.encode_batch([r["text"] for r in variants])
        for row, a, b in zip(variants, parents, children):
            d = token_distance(a, b)
            assert 1 <= d <= 2 and d == row["token_distance"][tok.label], row["id"]
