import pytest

from trailforge.errors import RecipeError
from trailforge.recipe import load_recipe

from .conftest import ROOT


def test_default_recipe_loads_and_resolves_paths():
    recipe = load_recipe(ROOT / "trailforge.yaml")
    assert recipe.output_dir == ROOT / "out" / recipe.name / recipe.version
    assert recipe.grammar_paths[0].is_file()
    assert "base_dir" not in recipe.resolved()  # no machine paths in the manifest


def test_overrides_replace_fields_and_none_keeps_them():
    recipe = load_recipe(ROOT / "trailforge.yaml", seed=99, version="9.9.9", limit=None)
    assert (recipe.seed, recipe.version) == (99, "9.9.9")
    assert recipe.limit is None


@pytest.mark.parametrize(
    "line, message, lineno",
    [
        ("version: one", "semantic version", 2),
        ("colour: blue", "Extra inputs are not permitted", 5),
        ("splits: {train: 0.5, test: 0.1}", "sum to 1", 5),
        ("max_token_distance: 0", "greater than or equal to 1", 5),
        ("ood: {views: [poster]}", "ood.views ['poster'] are not in views", 5),
        ("anchors: {tags: ['-> {}']}", "reads as logic", 5),
        ("worlds: {frames: 0}", "greater than or equal to 1", 5),
        # counts are whole numbers as YAML writes them, never a boolean, a string or a float
        ("worlds: {frames: true}", "valid integer", 5),
        ("variants_per_trail: '3'", "valid integer", 5),
        ("seed: 1.5", "valid integer", 5),
        ("domains: []\nworlds: null", "nothing to build", 6),
        ("mutators: []", "no mutators, yet variants_per_trail", 5),
        ("source: elsewhere.yaml", "Extra inputs are not permitted", 5),
        ("base_dir: /tmp", "Extra inputs are not permitted", 5),
    ],
)
def test_bad_recipes_point_at_the_line(tmp_path, line, message, lineno):
    base = {"name": "x", "version": "0.1.0", "roles": "[student]", "views": "[prose]"}
    key = line.split(":")[0]
    lines = [f"{k}: {v}" for k, v in base.items() if k != key]
    lines.insert(lineno - 1, line)
    path = tmp_path / "r.yaml"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    assert message in info.value.message
    assert info.value.line == lineno
    assert info.value.file == str(path)


def test_missing_recipe_is_a_clear_error(tmp_path):
    with pytest.raises(RecipeError, match="not found"):
        load_recipe(tmp_path / "nope.yaml")


def test_curriculum_stages_once(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(
        "name: x\nversion: 0.1.0\nroles: [a]\nviews: [b]\n"
        "curriculum:\n  - {stage: 1}\n  - {stage: 1}\n"
    )
    with pytest.raises(RecipeError, match="each stage may appear once") as info:
        load_recipe(path)
    assert info.value.line == 5


def test_how_a_tokenizer_path_is_spelled_changes_nothing_recorded():
    from trailforge.recipe import recorded_spec

    spellings = ["mine=tk/tokenizer.json", "mine=./tk/tokenizer.json", "mine=tk//tokenizer.json"]
    assert {recorded_spec(s) for s in spellings} == {"mine=tk/tokenizer.json"}
    recipes = [load_recipe(ROOT / "trailforge.yaml", tokenizers=[s]) for s in spellings[:2]]
    assert recipes[0].resolved() == recipes[1].resolved()  # so the same inputs fingerprint
    assert recorded_spec("/home/someone/tk/tokenizer.json") == "tokenizer.json"
    assert [recorded_spec(s) for s in ("", "o200k_base", "hf:org/name")] == [
        "",
        "o200k_base",
        "hf:org/name",
    ]
