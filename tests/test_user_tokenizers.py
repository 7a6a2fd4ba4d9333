"""Users' own tokenizer.json files: byte-level BPE (GPT-2 style), SentencePiece-style BPE with
byte fallback (Llama-2/Mistral style) and WordPiece, including tiny vocabularies where most edits
cost more than the bound. Tokenizers are trained here, offline, in milliseconds."""

from __future__ import annotations

import pytest

from trailforge.dataset import read_table
from trailforge.distance import token_distance
from trailforge.factory import build_version
from trailforge.recipe import load_recipe
from trailforge.tokenize import load_tokenizer

from .conftest import MINI, variant_bound
from .tokenizer_files import byte_level_bpe, sentencepiece_bpe


@pytest.mark.parametrize(
    "make, vocab", [(byte_level_bpe, 300), (byte_level_bpe, 2000), (sentencepiece_bpe, 400)]
)
def test_builds_hold_the_bound_under_users_tokenizers(tmp_path, make, vocab):
    path = make(tmp_path / f"user-{vocab}.json", vocab)
    tok = load_tokenizer(str(path))
    assert tok.decode(tok.encode_batch(["the rod bends"])[0]).strip() == "the rod bends"
    recipe = load_recipe(
        MINI / "trailforge.yaml",
        output=str(tmp_path / "out"),
        limit=12,
        tokenizers=[f"mine={path}"],
    )
    result = build_version(recipe, workers=1)
    rows = {r["id"]: r for r in read_table(result.path).to_pylist()}
    variants = [r for r in rows.values() if r["parent_id"]]
    if vocab >= 400:  # below that nearly every word is several tokens: no edit may fit the bound
        assert variants, "a small vocabulary must still yield some variants"
    for row in variants:
        a, b = tok.encode_batch([rows[row["parent_id"]]["text"], row["text"]])
        assert 1 <= token_distance(a, b) <= variant_bound(recipe, row["mutation"]["op"])
        assert row["token_distance"] == {"mine": token_distance(a, b)}
    mutations = result.stats["mutations"]
    assert sum(m["proposed"] for m in mutations.values()) > len(variants)  # searched, rejected
    assert all(sum(m["rejected"].values()) + m["kept"] == m["proposed"] for m in mutations.values())


def test_wordpiece_small_vocabulary_reports_rejections(tmp_path, wordpiece_path):
    recipe = load_recipe(
        MINI / "trailforge.yaml",
        output=str(tmp_path),
        limit=12,
        tokenizers=["o200k_base", f"bert={wordpiece_path}"],
    )
    result = build_version(recipe, workers=1)
    rejected = {reason for m in result.stats["mutations"].values() for reason in m["rejected"]}
    assert any(reason.startswith("over_bound:") for reason in rejected)
    rows = read_table(result.path).to_pylist()
    assert all(set(r["token_distance"]) == {"o200k_base", "bert"} for r in rows if r["parent_id"])
