"""The curriculum's order within a stage: by the token-id proxy (default) or by the mean surprisal
of each base trail under a causal LM (`difficulty: {by: surprisal, model: ...}`)."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from trailforge.cli import main
from trailforge.dataset import read_table
from trailforge.errors import RecipeError
from trailforge.recipe import load_recipe

from .conftest import MINI


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory, torch_module):
    from .test_drift import tiny_gpt2

    return tiny_gpt2(tmp_path_factory.mktemp("difficulty-lm"))


def _build(tmp_path, model, workers, name="out", shard_size=None):
    from trailforge.factory import build_version

    recipe = load_recipe(
        MINI / "trailforge.yaml",
        output=str(tmp_path / name),
        limit=24,
        difficulty={"by": "surprisal", "model": str(model)},
    )
    return build_version(recipe, workers=workers, shard_size=shard_size).path


def test_surprisal_orders_each_stage_by_the_models_surprisal(tmp_path, tiny_lm):
    from trailforge.lm import CausalScorer

    path = _build(tmp_path, tiny_lm, workers=2)
    rows = read_table(path).to_pylist()
    scorer = CausalScorer(str(tiny_lm), device="cpu")
    bases = [r for r in rows if r["depth"] == 0]
    for base in bases[:6]:  # the column is the base trail's mean surprisal, in nats per token
        total, count = scorer.text_logps([base["text"]])[0]
        assert base["rarity"] == pytest.approx(-total / count, abs=1e-4)
    for split in {r["split"] for r in bases}:  # easiest first within each stage of each split
        for stage in {r["stage"] for r in bases}:
            values = [r["rarity"] for r in bases if r["split"] == split and r["stage"] == stage]
            assert values == sorted(values)
    manifest = json.loads((path / "manifest.json").read_text())
    assert len(manifest["difficulty_model"]["fingerprint"]) == 64
    assert str(tmp_path) not in json.dumps(manifest["difficulty_model"])
    assert "mean surprisal per token under" in (path / "README.md").read_text()


def test_surprisal_order_does_not_depend_on_workers_or_shards(tmp_path, tiny_lm):
    one = _build(tmp_path, tiny_lm, workers=1, name="one")  # one process, one shard
    two = _build(tmp_path, tiny_lm, workers=2, name="two", shard_size=5)  # forked, 5 shards
    files = sorted(p.relative_to(one) for p in (one / "data").rglob("*.parquet"))
    assert files
    for name in files:
        assert pq.read_table(one / name).equals(pq.read_table(two / name)), name
        assert (one / name).read_bytes() == (two / name).read_bytes(), name


def test_the_default_card_names_the_token_id_proxy(mini_build):
    assert "token-id proxy" in (mini_build / "README.md").read_text()


@pytest.mark.parametrize(
    "difficulty, message",
    [
        ({"by": "surprisal"}, "needs a model"),
        ({"by": "token_ids", "model": "some/model"}, "only with by: surprisal"),
        ({"by": "loudness"}, "difficulty"),
    ],
)
def test_a_bad_difficulty_is_a_recipe_error(difficulty, message):
    with pytest.raises(RecipeError, match=message):
        load_recipe(MINI / "trailforge.yaml", difficulty=difficulty)


def test_a_missing_or_non_causal_model_stops_the_build_with_exit_2(
    mini_copy, torch_module, wordpiece_path
):
    recipe = mini_copy / "trailforge.yaml"
    for model, message in (
        ("no-such-model", "no model folder"),
        (str(wordpiece_path.parent), "not a causal language model"),
    ):
        text = recipe.read_text().split("\ndifficulty:")[0]
        recipe.write_text(text + f"\ndifficulty: {{by: surprisal, model: {model}}}\n")
        result = CliRunner().invoke(main, ["build", "--recipe", str(recipe), "--limit", "4"])
        assert result.exit_code == 2 and message in result.output, result.output
        assert "Traceback" not in result.output and not (mini_copy / "out").exists()
