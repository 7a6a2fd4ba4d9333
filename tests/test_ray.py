"""The Ray engine builds the same bytes as the local engine (a small local Ray instance)."""

from __future__ import annotations

from trailforge.factory import build_version
from trailforge.recipe import load_recipe

from .conftest import MINI


def test_ray_engine_gives_identical_bytes(ray_module, mini_build, tmp_path):
    result = build_version(
        load_recipe(MINI / "trailforge.yaml", output=str(tmp_path)),
        workers=2,
        engine="ray",
        shard_size=8,
    )
    built = {
        p.relative_to(result.path).as_posix(): p.read_bytes()
        for p in sorted(result.path.rglob("*.parquet"))
    }
    local = {
        p.relative_to(mini_build).as_posix(): p.read_bytes()
        for p in sorted(mini_build.rglob("*.parquet"))
    }
    assert built == local
    assert not ray_module.is_initialized()  # the engine shuts down the Ray it started


def test_ray_engine_without_ray_explains_the_extra(mini_copy, monkeypatch):
    import sys

    from click.testing import CliRunner

    from trailforge.cli import main

    monkeypatch.setitem(sys.modules, "ray", None)
    monkeypatch.chdir(mini_copy)
    result = CliRunner().invoke(main, ["build", "--engine", "ray", "--limit", "3"])
    assert result.exit_code == 2 and ".[ray]" in result.output
    assert not any((mini_copy / "out").rglob("*.parquet"))


def test_ray_engine_builds_the_same_worlds(ray_module, tmp_path):
    from .conftest import ROOT

    def recipe(out: str):
        return load_recipe(
            ROOT / "recipes" / "worlds.yaml",
            output=str(tmp_path / out),
            worlds={
                "frames": 60,
                "ood_frames": 6,
                "stages_per_frame": 1,
                "banks": "../content/worlds/banks.yaml",
            },
        )

    local = build_version(recipe("local"), workers=1, shard_size=16).path
    ray = build_version(recipe("ray"), workers=2, engine="ray", shard_size=16).path
    files = sorted(p.relative_to(local).as_posix() for p in local.rglob("*.parquet"))
    assert files and files == sorted(p.relative_to(ray).as_posix() for p in ray.rglob("*.parquet"))
    assert all((local / f).read_bytes() == (ray / f).read_bytes() for f in files)
