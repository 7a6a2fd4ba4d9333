"""A version is portable and lists all it is: no machine path inside, file tokenizers travel with
it, a stray file is a breach and is never published, a malformed manifest is a clear error."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from click.testing import CliRunner

from trailforge.cli import main
from trailforge.publish import plan_publish

from .tokenizer_files import byte_level_bpe


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The mini recipe built with a tokenizer.json given by absolute path, which is then removed."""
    from trailforge.factory import build_version
    from trailforge.recipe import load_recipe

    from .conftest import MINI

    home = tmp_path_factory.mktemp("machine-home")
    (home / "tokenizers").mkdir()
    tok = byte_level_bpe(home / "tokenizers" / "mytok.json", 700)
    recipe = load_recipe(
        MINI / "trailforge.yaml",
        output=str(home / "out"),
        limit=8,
        tokenizers=[f"mine={tok.resolve()}", "o200k_base"],
    )
    path = build_version(recipe, workers=1).path
    kept = tmp_path_factory.mktemp("elsewhere") / "renamed.json"
    shutil.move(tok, kept)  # the original path no longer exists
    return home, path, kept


def test_no_absolute_path_of_the_machine_in_the_version(built):
    home, path, _ = built
    for file in path.rglob("*"):
        if file.is_file() and file.suffix != ".parquet":
            assert str(home) not in file.read_text(errors="replace"), file
    entry = json.loads((path / "manifest.json").read_text())["tokenizers"][0]
    assert entry["spec"] == "mine=mytok.json" and list(entry["files"]) == ["tokenizers/mine.json"]


def test_verify_and_show_use_the_versions_copy_from_any_folder(built, tmp_path, monkeypatch):
    _, path, _ = built
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["verify", str(path)])
    assert result.exit_code == 0, result.output
    from trailforge.dataset import read_table

    variant = next(r for r in read_table(path).to_pylist() if r["depth"] == 1)
    result = CliRunner().invoke(main, ["show", str(path), "--family", variant["family_id"]])
    assert result.exit_code == 0 and variant["mutation"]["op"] in result.output, result.output


def test_tokenizer_dir_finds_the_file_by_its_hash(built, tmp_path):
    _, path, kept = built
    copy = tmp_path / "copy"
    shutil.copytree(path, copy)
    shutil.rmtree(copy / "tokenizers")
    result = CliRunner().invoke(main, ["verify", str(copy), "--tokenizer-dir", str(kept.parent)])
    assert "tokenizers/mine.json: missing" in result.output  # the copy is gone: a breach ...
    assert re.search(r"token bound\s*│\s*[1-9]\d*\s*│\s*ok", result.output), result.output
    assert "cannot load" not in result.output  # ... yet the bound was checked with the found file
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(main, ["verify", str(copy), "--tokenizer-dir", str(empty)])
    assert (
        result.exit_code == 2 and "no file in" in result.output and "Traceback" not in result.output
    )


def test_a_damaged_tokenizer_copy_is_a_breach_not_an_unusable_input(built, tmp_path):
    _, path, _ = built
    copy = tmp_path / "copy"
    shutil.copytree(path, copy)
    (copy / "tokenizers" / "mine.json").write_text("{")
    result = CliRunner().invoke(main, ["verify", str(copy)])
    assert result.exit_code == 1, result.output
    assert "tokenizers/mine.json: sha256 differs" in result.output
    assert "copy in the version is missing or changed" in result.output


def test_a_stray_file_is_a_breach_and_is_never_published(built, tmp_path):
    _, path, _ = built
    copy = tmp_path / "copy"
    shutil.copytree(path, copy)
    (copy / ".env").write_text("HF_TOKEN=hf_secret\n")
    (copy / "data" / "notes.txt").write_text("scratch\n")
    result = CliRunner().invoke(main, ["verify", str(copy)])
    assert result.exit_code == 1 and ".env: not listed in the manifest" in result.output
    assert "data/notes.txt: not listed" in result.output
    sent = {f.path_in_repo for f in plan_publish(copy, "org/name").files}
    assert ".env" not in sent and "data/notes.txt" not in sent
    assert {"README.md", "manifest.json", "stats.json", "tokenizers/mine.json"} <= sent


@pytest.mark.parametrize("manifest", ["[1, 2, 3]", '{"files": []}', "{not json"])
def test_a_malformed_manifest_is_a_clear_error(built, tmp_path, manifest):
    _, path, _ = built
    copy = tmp_path / "copy"
    shutil.copytree(path, copy)
    (copy / "manifest.json").write_text(manifest)
    for command in (["verify", str(copy)], ["show", str(copy)], ["diff", str(copy), str(path)]):
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 2 and "manifest" in result.output, (command, result.output)
        assert "Traceback" not in result.output
