"""`trailforge verify` finds tampering, broken lineage and split leaks; `diff` reports changes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from trailforge.cli import main
from trailforge.write import PARQUET_OPTIONS, sha256_file


@pytest.fixture
def version(mini_build, tmp_path) -> Path:
    """A private copy of the mini build to damage."""
    target = tmp_path / "copy"
    shutil.copytree(mini_build, target)
    return target


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def rewrite(version: Path, name: str, rows: list[dict]) -> None:
    """Replace a shard's rows and re-sign it in the manifest, so only the semantic checks can
    notice."""
    path = version / name
    schema = pq.read_schema(path)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path, **PARQUET_OPTIONS)
    manifest = json.loads((version / "manifest.json").read_text())
    manifest["files"][name].update(sha256=sha256_file(path), rows=len(rows))
    (version / "manifest.json").write_text(json.dumps(manifest))


def verify_edited(version: Path, edit):
    """`verify` after `edit(manifest)` changed the version's manifest in place."""
    manifest = json.loads((version / "manifest.json").read_text())
    edit(manifest)
    (version / "manifest.json").write_text(json.dumps(manifest))
    return run("verify", str(version))


TRAIN = "data/trails/train-00000-of-00001.parquet"
TEST = "data/trails/test-00000-of-00001.parquet"


def test_clean_version_passes(version):
    result = run("verify", str(version))
    assert result.exit_code == 0, result.output
    assert "clean" in result.output


def test_one_changed_byte_in_a_shard_is_caught(version):
    path = version / "data/text/train-00000-of-00001.parquet"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    result = run("verify", str(version))
    assert result.exit_code == 1
    assert "data/text/train-00000-of-00001.parquet: sha256 differs" in result.output


def test_a_deleted_parent_row_is_caught(version):
    rows = pq.read_table(version / TRAIN).to_pylist()
    parent = next(r for r in rows if r["parent_id"] is None)
    rewrite(version, TRAIN, [r for r in rows if r["id"] != parent["id"]])
    result = run("verify", str(version))
    assert result.exit_code == 1
    assert f"parent {parent['id']} does not exist" in result.output


def test_a_row_moved_to_another_split_is_caught(version):
    train = pq.read_table(version / TRAIN).to_pylist()
    moved = next(r for r in train if r["parent_id"] is not None)
    test = pq.read_table(version / TEST).to_pylist()
    rewrite(version, TRAIN, [r for r in train if r["id"] != moved["id"]])
    rewrite(version, TEST, test + [dict(moved, split="test")])
    result = run("verify", str(version))
    assert result.exit_code == 1
    assert f"family {moved['family_id']} spans splits ['test', 'train']" in result.output
    assert f"row {moved['id']}: parent" in result.output and "in split 'train'" in result.output


def test_an_edited_text_breaks_the_id_and_the_bound_check(version):
    rows = pq.read_table(version / TRAIN).to_pylist()
    victim = next(r for r in rows if r["parent_id"] is not None)
    edited = dict(
        victim, text=victim["text"] + " And a long appended sentence changes many tokens."
    )
    rewrite(version, TRAIN, [edited if r["id"] == victim["id"] else r for r in rows])
    result = run("verify", str(version))
    assert result.exit_code == 1
    assert f"row {victim['id']}: id is not the hash of its content" in result.output
    assert "tokens from its parent (bound 2)" in result.output


def test_a_duplicated_row_is_caught(version):
    rows = pq.read_table(version / TRAIN).to_pylist()
    twin = next(r for r in rows if r["parent_id"] is not None)
    rewrite(version, TRAIN, rows + [twin])
    result = run("verify", str(version))
    assert result.exit_code == 1
    assert f"row {twin['id']}: duplicate id" in result.output
    assert result.output.count("duplicate id") == 1


def test_a_row_that_names_another_split_is_caught(version):
    rows = pq.read_table(version / TRAIN).to_pylist()
    victim = rows[len(rows) // 2]
    rewrite(version, TRAIN, [dict(r, split="test") if r is victim else r for r in rows])
    result = run("verify", str(version))
    assert result.exit_code == 1
    assert f"{TRAIN}: row {victim['id']} says split 'test'" in result.output


def test_a_shuffled_version_passes_every_check(mini_copy):
    """Shuffled rows interleave families, so parents, bases and duplicates are found by position;
    shuffled `preference` pairs follow their id rows, so they are compared as a set of rows."""
    from trailforge.factory import build_version
    from trailforge.recipe import load_recipe
    from trailforge.verify import verify

    built = build_version(load_recipe(mini_copy / "trailforge.yaml", order="shuffle"), workers=1)
    families = pq.read_table(built.path / TRAIN, columns=["family_id"])["family_id"].to_pylist()
    assert families != sorted(families, key=families.index)  # families are interleaved
    checks = verify(built.path).checks
    assert all(c.ok and c.checked for c in checks), [c for c in checks if not c.ok]


def test_card_that_lies_about_sizes_is_caught(version):
    card = (version / "README.md").read_text()
    (version / "README.md").write_text(card.replace("num_examples: ", "num_examples: 1", 1))
    result = run("verify", str(version))
    assert result.exit_code == 1 and "dataset_info sizes" in result.output


def test_unusable_input_exits_2(tmp_path):
    result = run("verify", str(tmp_path))
    assert result.exit_code == 2 and "manifest.json" in result.output


def test_diff_reports_rows_and_inputs(mini_build, mini_copy):
    from trailforge.factory import build_version
    from trailforge.recipe import load_recipe

    domain = mini_copy / "content/domains/cooking.yaml"
    domain.write_text(domain.read_text().replace("the dough rises\n", "the dough puffs up\n"))
    newer = build_version(load_recipe(mini_copy / "trailforge.yaml", version="0.0.2"), workers=1)
    result = run("diff", str(mini_build), str(newer.path))
    assert result.exit_code == 0, result.output
    assert "input changed: content/domains/cooking.yaml" in result.output
    assert "recipe version: '0.0.1' -> '0.0.2'" in result.output
    same = run("diff", str(mini_build), str(mini_build))
    assert "identical" in same.output


def test_a_held_out_view_stays_in_ood_and_a_leak_is_caught(mini_copy, tmp_path):
    from trailforge.dataset import read_table
    from trailforge.factory import build_version
    from trailforge.recipe import load_recipe

    built = build_version(
        load_recipe(
            mini_copy / "trailforge.yaml",
            output=str(tmp_path / "o"),
            ood={"roles": ["critic"], "views": ["qa"]},
        ),
        workers=1,
    )
    rows = read_table(built.path).to_pylist()
    assert {r["split"] for r in rows if r["view"] == "qa"} == {"ood"}
    assert {r["split"] for r in rows if r["view"] != "qa" and r["role"] != "critic"} != {"ood"}
    assert run("verify", str(built.path)).exit_code == 0
    copy = tmp_path / "copy"
    shutil.copytree(built.path, copy)
    train = pq.read_table(copy / TRAIN).to_pylist()
    leaked = dict(train[0], view="qa")
    rewrite(copy, TRAIN, [leaked] + train[1:])
    result = run("verify", str(copy))
    assert result.exit_code == 1 and f"row {leaked['id']}: held-out" in result.output


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda m: m.update(seed=m["seed"] + 1), "seed"),
        (lambda m: m.update(version="9.9.9"), "version '9.9.9' differs"),
        (lambda m: m["rows"].update(total=m["rows"]["total"] + 5), "differ from the trails files"),
        (lambda m: m["recipe"].update(max_token_distance=9), "inputs fingerprint"),
        (lambda m: m["inputs"].update({"content/extra.yaml": "0" * 64}), "inputs fingerprint"),
    ],
)
def test_a_version_cannot_lie_and_publish_refuses_it(version, edit, message):
    result = verify_edited(version, edit)
    assert result.exit_code == 1 and message in result.output, result.output
    result = run("publish", str(version), "--repo-id", "org/name", "--dry-run")
    assert result.exit_code == 2 and "fails verification" in result.output
    assert "v9.9.9" not in result.output


def test_a_renamed_version_folder_is_a_breach(version, tmp_path):
    moved = version.rename(tmp_path / "9.9.9")
    result = run("verify", str(moved))
    assert result.exit_code == 1 and "differs from the folder name '9.9.9'" in result.output


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda m: m.update(card=None), "`card` is NoneType, not dict"),
        (lambda m: m.update(recipe=None), "`recipe` is NoneType, not dict"),
        (lambda m: m.update(tokenizers=None), "`tokenizers` is NoneType, not list"),
        (lambda m: m["files"].update({TRAIN: 5}), f"files entry '{TRAIN}' is not a shard entry"),
        (lambda m: m["files"].update({"data/a/b/c.parquet": {}}), "'data/a/b/c.parquet' is not"),
        (lambda m: m["files"].update({"../x.parquet": {}}), "'../x.parquet' is not a shard"),
        (lambda m: m.update(extra=1), "keys no build writes: ['extra']"),
        (lambda m: m["card"].update(path="stats.json"), "recorded at 'stats.json'"),
        (lambda m: m["files"][TRAIN].update(bytes=1), "bytes, manifest says 1"),
    ],
)
def test_a_malformed_manifest_is_a_breach_not_a_crash(version, edit, message):
    result = verify_edited(version, edit)
    assert result.exit_code == 1 and message in result.output, result.output
    assert "Traceback" not in result.output and not isinstance(result.exception, Exception)


@pytest.mark.parametrize("damage", ["truncate", "delete"])
def test_lint_and_diff_name_a_damaged_shard(version, mini_build, damage):
    shard = version / TRAIN
    if damage == "delete":
        shard.unlink()
    else:
        shard.write_bytes(shard.read_bytes()[:50])
    for args in (["lint", str(version)], ["diff", str(mini_build), str(version)]):
        result = run(*args)
        assert result.exit_code == 2, result.output
        assert TRAIN in result.output and "trailforge verify" in result.output
        assert not isinstance(result.exception, Exception)


def test_lint_refuses_a_folder_that_is_not_a_version(tmp_path):
    result = run("lint", str(tmp_path))
    assert result.exit_code == 2 and "not a trailforge version folder" in result.output
