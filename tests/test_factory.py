"""factory.build_version end to end on the mini recipe: files, determinism, loading, provenance,
refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from trailforge.dataset import read_table
from trailforge.distance import token_distance
from trailforge.errors import OutputError, TemplateError
from trailforge.factory import build_version
from trailforge.recipe import load_recipe
from trailforge.tokenize import load_tokenizer
from trailforge.write import sha256_file

from .conftest import MINI, ROOT, variant_bound


def shard_bytes(version: Path) -> dict[str, bytes]:
    return {
        p.relative_to(version).as_posix(): p.read_bytes()
        for p in sorted((version / "data").rglob("*.parquet"))
    }


def test_layout_and_all_stages(mini_build):
    manifest = json.loads((mini_build / "manifest.json").read_text())
    assert set(manifest["files"]) == set(shard_bytes(mini_build))
    names = {Path(n).name for n in manifest["files"] if n.startswith("data/trails/")}
    assert {"train-00000-of-00001.parquet", "ood-00000-of-00001.parquet"} <= names
    rows = read_table(mini_build).to_pylist()
    assert {r["stage"] for r in rows} == {1, 2, 3, 4, 5}
    recipe = load_recipe(MINI / "trailforge.yaml")
    assert {r["mutation"]["op"] for r in rows if r["mutation"]} == set(recipe.mutators)
    assert all(r["text"] == r["prompt"] + r["completion"] for r in rows)
    assert {r["split"] for r in rows if r["role"] == "critic"} == {"ood"}


def test_manifest_hashes_match_files_and_inputs(mini_build):
    manifest = json.loads((mini_build / "manifest.json").read_text())
    for name, entry in manifest["files"].items():
        assert sha256_file(mini_build / name) == entry["sha256"]
        assert pq.ParquetFile(mini_build / name).metadata.num_rows == entry["rows"]
    trails = {n: e for n, e in manifest["files"].items() if n.startswith("data/trails/")}
    assert sum(e["rows"] for e in trails.values()) == manifest["rows"]["total"]
    assert "content/domains/physics.yaml" in manifest["inputs"]
    assert any(k.endswith("templates/views/prose.j2") for k in manifest["inputs"])
    assert {t["label"] for t in manifest["tokenizers"]} == {"o200k_base", "cl100k_base"}
    text = (mini_build / "manifest.json").read_text()
    assert str(Path.home()) not in text and str(MINI) not in text  # no machine paths


def test_card_front_matter_parses_and_matches(mini_build):
    card = (mini_build / "README.md").read_text()
    front = yaml.safe_load(card.split("---\n")[1])
    manifest = json.loads((mini_build / "manifest.json").read_text())
    info = {
        c["config_name"]: {s["name"]: s["num_examples"] for s in c["splits"]}
        for c in front["dataset_info"]
    }
    assert info["trails"] == manifest["rows"]["by_split"]
    assert info == manifest["configs"]
    assert [c["config_name"] for c in front["configs"] if c.get("default")] == ["trails"]


def test_loads_with_datasets_offline(mini_build, monkeypatch):
    import datasets

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    loaded = datasets.load_dataset(str(mini_build))
    manifest = json.loads((mini_build / "manifest.json").read_text())
    assert {s: len(loaded[s]) for s in loaded} == manifest["rows"]["by_split"]
    row = loaded["train"][0]
    assert row["depth"] == 0 and row["parent_id"] is None and row["steps"][0]["kind"] == "premise"


def test_every_row_is_within_the_bound_when_retokenized(mini_build):
    rows = {r["id"]: r for r in read_table(mini_build).to_pylist()}
    recipe = load_recipe(MINI / "trailforge.yaml")
    toks = [load_tokenizer(n) for n in recipe.tokenizers]
    checked = 0
    for row in rows.values():
        if row["parent_id"] is None:
            assert row["token_distance"] is None
            continue
        parent = rows[row["parent_id"]]
        assert parent["family_id"] == row["family_id"] and parent["split"] == row["split"]
        for tok in toks:
            a, b = tok.encode_batch([parent["text"], row["text"]])
            assert 1 <= token_distance(a, b) <= variant_bound(recipe, row["mutation"]["op"])
            assert token_distance(a, b) == row["token_distance"][tok.label]
            checked += 1
    assert checked > 200


@pytest.mark.parametrize("workers, shard_size", [(1, 64), (2, 5), (1, 1)])
def test_deterministic_across_workers_and_shard_sizes(mini_build, tmp_path, workers, shard_size):
    other = build_version(
        load_recipe(MINI / "trailforge.yaml", output=str(tmp_path)),
        workers=workers,
        shard_size=shard_size,
    )
    assert shard_bytes(other.path) == shard_bytes(mini_build)
    for name in ("README.md", "stats.json"):
        assert (other.path / name).read_bytes() == (mini_build / name).read_bytes()


def test_seed_changes_the_data(mini_build, tmp_path):
    other = build_version(
        load_recipe(MINI / "trailforge.yaml", output=str(tmp_path), seed=4, limit=10), workers=1
    )
    assert shard_bytes(other.path) != shard_bytes(mini_build)


def test_existing_version_same_inputs_is_a_noop_other_inputs_refused(mini_copy):
    recipe = load_recipe(mini_copy / "trailforge.yaml", limit=5)
    first = build_version(recipe, workers=1)
    before = shard_bytes(first.path)
    again = build_version(load_recipe(mini_copy / "trailforge.yaml", limit=5), workers=1)
    assert again.already_built
    with pytest.raises(OutputError, match="bump"):
        build_version(load_recipe(mini_copy / "trailforge.yaml", limit=6), workers=1)
    assert shard_bytes(first.path) == before


def test_broken_template_writes_nothing(mini_copy):
    (mini_copy / "templates" / "views" / "qa.j2").write_text("{{ steps[0].connective }} {{ oops }}")
    recipe = load_recipe(mini_copy / "trailforge.yaml")
    with pytest.raises(TemplateError) as info:
        build_version(recipe, workers=1)
    assert "qa.j2" in info.value.file
    assert not (mini_copy / "out").exists() or not any((mini_copy / "out").rglob("*.parquet"))


def test_curriculum_order(mini_build):
    import pyarrow.parquet as pq

    rows = pq.read_table(mini_build / "data/trails/train-00000-of-00001.parquet").to_pylist()
    keys = [(r["stage"], r["rarity"]) for r in rows]
    assert keys == sorted(keys)
    seen: set[str] = set()
    for row in rows:
        if row["family_id"] not in seen:
            assert row["depth"] == 0  # a family opens with its base trail
            seen.add(row["family_id"])
        else:
            assert row["parent_id"] is not None


def test_stats_report_balance_and_rejections(mini_build):
    stats = json.loads((mini_build / "stats.json").read_text())
    assert stats["distinct_base_trails"] == stats["families"]
    assert set(stats["by_stage"]) == {"1", "2", "3", "4", "5"}
    assert all("rejection_rate" in m for m in stats["mutations"].values())


def test_curriculum_genome_sets_domains_and_counts(mini_build):
    stats = json.loads((mini_build / "stats.json").read_text())
    rows = read_table(mini_build).to_pylist()
    assert {r["domain"] for r in rows if r["stage"] == 5} == {"physics"}
    bases = [r for r in rows if r["depth"] == 0]
    per_stage = {s: sum(1 for r in bases if r["stage"] == s) for s in (1, 4)}
    assert per_stage[4] * 2 == per_stage[1] * 3  # 3 renderings per frame at stage 4, 2 at stage 1
    assert stats["families"] == len(bases)


def test_unknown_curriculum_domain_is_refused(mini_copy):
    path = mini_copy / "trailforge.yaml"
    path.write_text(path.read_text().replace("domains: [physics]", "domains: [alchemy]"))
    from trailforge.errors import RecipeError

    with pytest.raises(RecipeError, match="alchemy"):
        build_version(load_recipe(path), workers=1)
    assert not (mini_copy / "out").exists()


def test_shuffle_order_is_seeded_and_keeps_the_rows(mini_copy):
    def train_ids(version: str, order: str) -> list[str]:
        result = build_version(
            load_recipe(mini_copy / "trailforge.yaml", version=version, order=order, limit=20),
            workers=1,
        )
        card = (result.path / "README.md").read_text()
        assert ("seeded shuffle" in card) == (order == "shuffle")
        return (
            pq.read_table(result.path / "data/trails/train-00000-of-00001.parquet", columns=["id"])
            .column("id")
            .to_pylist()
        )

    curriculum, shuffled = train_ids("1.0.0", "curriculum"), train_ids("1.0.1", "shuffle")
    assert sorted(curriculum) == sorted(shuffled) and curriculum != shuffled
    assert train_ids("1.0.2", "shuffle") == shuffled


def test_card_gives_the_exact_rebuild_command(mini_build):
    card = (mini_build / "README.md").read_text()
    assert (
        "trailforge build --recipe trailforge.yaml --version 0.0.1 --seed 3 "
        "--tokenizer o200k_base --tokenizer cl100k_base"
    ) in card


@pytest.mark.parametrize("hash_seed", ["1", "4242"])
def test_bytes_do_not_depend_on_pythonhashseed(mini_build, tmp_path, hash_seed):
    import os
    import subprocess
    import sys

    subprocess.run(
        [
            sys.executable,
            "-m",
            "trailforge",
            "build",
            "--recipe",
            str(MINI / "trailforge.yaml"),
            "--out",
            str(tmp_path),
            "--workers",
            "2",
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "PYTHONHASHSEED": hash_seed},
    )
    assert shard_bytes(tmp_path / "mini" / "0.0.1") == shard_bytes(mini_build)


def test_more_parts_than_the_merge_reads_at_once_give_the_same_bytes(tmp_path):
    """Over FAN_IN parts per split, the merge first merges runs of parts: same files."""
    from trailforge.factory import build_version
    from trailforge.recipe import load_recipe
    from trailforge.write import FAN_IN

    families = FAN_IN * 2 + 10
    many = build_version(
        load_recipe(ROOT / "trailforge.yaml", output=str(tmp_path / "many"), limit=families),
        workers=2,
        shard_size=1,
    ).path
    few = build_version(
        load_recipe(ROOT / "trailforge.yaml", output=str(tmp_path / "few"), limit=families),
        workers=2,
    ).path
    assert not list(many.parent.glob(".tmp-*"))  # the runs' work folder went with the parts
    names = sorted(p.relative_to(few) for p in (few / "data").rglob("*.parquet"))
    assert names == sorted(p.relative_to(many) for p in (many / "data").rglob("*.parquet"))
    for name in names:
        assert (many / name).read_bytes() == (few / name).read_bytes(), name
