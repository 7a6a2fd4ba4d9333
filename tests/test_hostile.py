"""Hostile and broken input at the edges: each a clear error (exit 2, no traceback), with its
file and line where there is one, and nothing written or lost."""

from __future__ import annotations

import errno
import threading

import pytest
from click.testing import CliRunner

from trailforge.cli import main
from trailforge.errors import OutputError


def build(recipe, *args):
    return CliRunner().invoke(main, ["build", "--recipe", str(recipe), *args])


def test_a_non_utf8_byte_names_its_line(mini_copy):
    domain = next((mini_copy / "content" / "domains").glob("*.yaml"))
    lines = domain.read_bytes().split(b"\n")
    lines[2] = lines[2] + b" caf\xe9"
    domain.write_bytes(b"\n".join(lines))
    result = build(mini_copy / "trailforge.yaml", "--limit", "3")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"{domain.name}:3" in result.output and "not UTF-8" in result.output
    assert not (mini_copy / "out").exists()


def test_a_non_utf8_template_names_its_line(mini_copy):
    view = mini_copy / "templates" / "views" / "prose.j2"
    view.write_bytes(view.read_bytes() + b"\ncaf\xe9\n")
    result = build(mini_copy / "trailforge.yaml", "--limit", "3")
    assert result.exit_code == 2 and "Traceback" not in result.output
    line = view.read_bytes().count(b"\n")
    assert f"prose.j2:{line}" in result.output and "template is not UTF-8" in result.output
    assert not (mini_copy / "out").exists()


def test_a_curriculum_that_selects_nothing_names_the_recipe(mini_copy):
    recipe = mini_copy / "nothing.yaml"
    text = (mini_copy / "trailforge.yaml").read_text()
    start, end = text.index("curriculum:"), text.index("trails_per_frame: 2")
    recipe.write_text(text[:start] + "curriculum:\n  - {stage: 1, domains: []}\n" + text[end:])
    result = build(recipe)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "nothing.yaml" in result.output and "selects no base trails" in result.output
    assert not (mini_copy / "out").exists()


def test_an_empty_domains_list_says_so(mini_copy):
    recipe = mini_copy / "trailforge.yaml"
    recipe.write_text(recipe.read_text() + "domains: []\n")
    result = build(recipe)
    assert result.exit_code == 2 and "`domains` is an empty list" in result.output


def test_an_output_folder_that_cannot_be_made(mini_copy, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = build(mini_copy / "trailforge.yaml", "--limit", "3", "--out", str(blocker / "out"))
    assert result.exit_code == 2 and "cannot create the output folder" in result.output
    assert "Traceback" not in result.output and blocker.read_text() == "not a folder"


def test_a_full_disk_keeps_the_finished_shards_for_resume(mini_copy, monkeypatch):
    from trailforge import factory
    from trailforge.recipe import load_recipe

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    recipe = load_recipe(mini_copy / "trailforge.yaml")
    with monkeypatch.context() as patched:
        patched.setattr(factory, "merge_parts", disk_full)
        with pytest.raises(OutputError, match="No space left on device") as info:
            factory.build_version(recipe, workers=1, shard_size=10)
    assert "--resume" in info.value.hint
    out = mini_copy / "out" / "mini"
    assert not (out / "0.0.1").exists()
    assert list(out.glob(".tmp-0.0.1-*/_parts/done/*.json"))  # finished shards are kept
    resumed = factory.build_version(
        load_recipe(mini_copy / "trailforge.yaml"), workers=1, shard_size=10, resume=True
    )
    assert resumed.resumed_shards >= 2 and (out / "0.0.1" / "manifest.json").is_file()


@pytest.mark.parametrize("failing", ["_write_projected", "_gathered"])
def test_a_full_disk_inside_the_merge_threads_is_an_output_error(mini_copy, monkeypatch, failing):
    """The merge writes in a thread pool and merges ahead in a producer thread: a failure in
    either reaches the user as the same OutputError, with no version folder and shards kept."""
    from trailforge import factory, write
    from trailforge.recipe import load_recipe

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patched:
        patched.setattr(write, failing, disk_full)
        with pytest.raises(OutputError, match="No space left on device") as info:
            factory.build_version(
                load_recipe(mini_copy / "trailforge.yaml"), workers=1, shard_size=10
            )
    assert "--resume" in info.value.hint
    out = mini_copy / "out" / "mini"
    assert not (out / "0.0.1").exists()
    assert list(out.glob(".tmp-0.0.1-*/_parts/done/*.json"))
    assert not any(t.name.startswith("trailforge-") for t in threading.enumerate())


VIEW_TAIL = "{% for s in steps %}{{ s.connective }} {{ s.text }}{% endfor %}"


@pytest.mark.parametrize(
    "view, message",
    [
        ("{% for i in range(10**9) %}x{% endfor %}" + VIEW_TAIL, "too large a range"),
        (
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
            + VIEW_TAIL,
            "ran past",
        ),
        ("{% macro again(n) %}{{ again(n) }}{% endmacro %}{{ again(1) }}" + VIEW_TAIL, "recurses"),
        ("{% for i in range(90000) %}padding {% endfor %}" + VIEW_TAIL, "over the cap"),
        ("{{ 1 // 0 }}" + VIEW_TAIL, "division"),
    ],
)
def test_a_hostile_view_stops_the_build_cleanly(mini_copy, monkeypatch, view, message):
    import trailforge.render as render

    monkeypatch.setattr(render, "MAX_SECONDS", 1.0)
    recipe = mini_copy / "trailforge.yaml"
    earlier = build(recipe, "--limit", "3", "--workers", "1", "--version", "0.0.9")
    assert earlier.exit_code == 0, earlier.output
    kept = {p: p.read_bytes() for p in (mini_copy / "out").rglob("*") if p.is_file()}
    (mini_copy / "templates" / "views" / "prose.j2").write_text(view)
    result = build(recipe, "--limit", "3", "--workers", "1")
    assert result.exit_code == 2 and message in result.output, result.output
    assert "Traceback" not in result.output and "prose.j2" in result.output
    assert not (mini_copy / "out" / "mini" / "0.0.1").exists()
    assert {p: p.read_bytes() for p in (mini_copy / "out").rglob("*") if p.is_file()} == kept


def test_a_manifest_naming_a_tokenizer_that_needs_the_network(mini_build, tmp_path):
    import json
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(mini_build, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["tokenizers"][0]["spec"] = "gpt2"
    (copy / "manifest.json").write_text(json.dumps(manifest))
    result = CliRunner().invoke(main, ["verify", str(copy)])
    assert result.exit_code == 2 and "needs the network" in result.output
    assert "Traceback" not in result.output


def test_a_read_only_output_folder(mini_copy, tmp_path, monkeypatch):
    import os

    target = tmp_path / "read-only"
    target.mkdir()
    real_access = os.access
    # as root, chmod is moot
    monkeypatch.setattr(
        os,
        "access",
        lambda path, mode, **kw: (
            False
            if str(path).startswith(str(target)) and mode == os.W_OK
            else real_access(path, mode, **kw)
        ),
    )
    result = build(mini_copy / "trailforge.yaml", "--limit", "3", "--out", str(target))
    assert result.exit_code == 2 and "not writable" in result.output
    assert "Traceback" not in result.output and not any((target / "mini").rglob("*.parquet"))


@pytest.mark.parametrize("thing", ["file", "empty folder", "dangling link"])
def test_something_else_where_the_version_goes_is_named(mini_copy, thing):
    final = mini_copy / "out" / "mini" / "0.0.1"
    final.parent.mkdir(parents=True)
    if thing == "file":
        final.write_text("x")
    elif thing == "empty folder":
        final.mkdir()
    else:
        final.symlink_to(mini_copy / "nowhere")
    result = build(mini_copy / "trailforge.yaml", "--limit", "3")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "that is not a trailforge version is where version 0.0.1 goes" in result.output
    assert not list(final.parent.glob(".tmp-*"))  # nothing started


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("mutators", "[anchor, bogus]", "unknown mutators ['bogus']"),
        ("tokenizers", "[o200k_base, nope_base]", "unknown tokenizer 'nope_base'"),
        ("ood", "{domains: [nowhere]}", "ood.domains ['nowhere'] are not loaded"),
    ],
)
def test_errors_found_after_loading_name_the_recipe_line(mini_copy, key, value, message):
    recipe = mini_copy / "trailforge.yaml"
    lines = [line for line in recipe.read_text().splitlines() if not line.startswith(f"{key}:")]
    lines.append(f"{key}: {value}")
    recipe.write_text("\n".join(lines) + "\n")
    result = build(recipe, "--limit", "3")
    assert result.exit_code == 2 and message in result.output, result.output
    assert f"trailforge.yaml:{len(lines)}:" in result.output


def test_a_bad_option_is_not_blamed_on_a_line_of_the_recipe(mini_copy):
    result = build(mini_copy / "trailforge.yaml", "--version", "0.3")
    assert result.exit_code == 2 and "given as an option, not in trailforge.yaml" in result.output
    assert "trailforge.yaml:" not in result.output
