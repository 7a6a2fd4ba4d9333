"""Interrupted builds leave no version folder, never touch earlier versions, and resume to the
same bytes as an uninterrupted build."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from trailforge.factory import build_version
from trailforge.recipe import load_recipe

from .conftest import ROOT

LIMIT = 2000  # families: tens of shards, a few seconds on 2 cores


#: The manifest's fields that record when and how long a build ran, not what it made.
RUN_FIELDS = ("built_at", "build_seconds")


def files_of(folder: Path) -> dict[str, bytes]:
    """Every file's bytes; the manifest without its RUN_FIELDS."""
    files = {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }
    manifest = json.loads(files.pop("manifest.json"))
    files["manifest.json"] = json.dumps(
        {k: v for k, v in manifest.items() if k not in RUN_FIELDS}
    ).encode()
    return files


def data_of(folder: Path) -> dict[str, bytes]:
    return {k: v for k, v in files_of(folder).items() if k.endswith(".parquet")}


@pytest.fixture(scope="module")
def clean_build(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("clean")
    return build_version(
        load_recipe(ROOT / "trailforge.yaml", output=str(out), version="0.0.2", limit=LIMIT),
        workers=2,
    ).path


def lingering(marker: str, grace: float = 5.0) -> list[int]:
    """Pids of processes whose command line mentions `marker`, after a grace period."""
    deadline = time.monotonic() + grace
    while True:
        found = []
        for proc in Path("/proc").iterdir():
            try:
                if (
                    proc.name.isdigit()
                    and marker in (proc / "cmdline").read_bytes().decode(errors="replace")
                    and (proc / "stat").read_text().split()[2] != "Z"
                ):
                    found.append(int(proc.name))
            except OSError:
                continue
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def finished_markers(parent: Path) -> int:
    return sum(1 for _ in parent.glob(".tmp-0.0.2-*/_parts/done/*.json"))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_killed_build_leaves_no_version_and_resumes(tmp_path, sig, clean_build):
    earlier = build_version(
        load_recipe(ROOT / "trailforge.yaml", output=str(tmp_path), version="0.0.1", limit=20),
        workers=1,
    )
    before = files_of(earlier.path)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "trailforge",
            "build",
            "--recipe",
            str(ROOT / "trailforge.yaml"),
            "--out",
            str(tmp_path),
            "--version",
            "0.0.2",
            "--limit",
            str(LIMIT),
            "--workers",
            "2",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "80"},
    )
    parent = tmp_path / "ski-tracks"
    deadline = time.monotonic() + 120
    while finished_markers(parent) < 2:
        assert process.poll() is None, "the build ended before it could be interrupted"
        assert time.monotonic() < deadline, "no shard finished in time"
        time.sleep(0.02)
    process.send_signal(sig)
    process.wait(timeout=60)
    assert process.returncode != 0
    assert not lingering(str(tmp_path)), "worker processes outlived the killed build"
    assert not (parent / "0.0.2").exists()
    assert files_of(earlier.path) == before
    kept = finished_markers(parent)
    assert kept >= 2
    resumed = build_version(
        load_recipe(ROOT / "trailforge.yaml", output=str(tmp_path), version="0.0.2", limit=LIMIT),
        workers=2,
        resume=True,
    )
    assert resumed.resumed_shards >= 2
    assert data_of(resumed.path) == data_of(clean_build)
    resumed_files, clean_files = files_of(resumed.path), files_of(clean_build)
    assert sorted(resumed_files) == sorted(clean_files)
    for name in clean_files:  # every file: card, stats and manifest (less its run fields) too
        assert resumed_files[name] == clean_files[name], name
    assert not list(parent.glob(".tmp-*"))


class Stop(KeyboardInterrupt):
    pass


def test_resume_rebuilds_damaged_shards_and_matches_a_clean_build(mini_copy):
    recipe = load_recipe(mini_copy / "trailforge.yaml")
    seen = []

    def stop_after_three(families: int, rows: int) -> None:
        seen.append(families)
        if len(seen) == 3:
            raise Stop

    with pytest.raises(Stop):
        build_version(recipe, workers=1, shard_size=10, on_progress=stop_after_three)
    temp = next((mini_copy / "out" / "mini").glob(".tmp-0.0.1-*"))
    parts = sorted((temp / "_parts" / "trails").rglob("part-00001.arrow"))
    parts[0].write_bytes(parts[0].read_bytes()[:-3] + b"xyz")  # damage shard 1
    resumed = build_version(
        load_recipe(mini_copy / "trailforge.yaml"), workers=1, resume=True, shard_size=10
    )
    assert resumed.resumed_shards == 2  # shards 0 and 2 kept, shard 1 rebuilt
    clean = build_version(
        load_recipe(mini_copy / "trailforge.yaml", output=str(mini_copy / "o2")), workers=2
    )
    assert data_of(resumed.path) == data_of(clean.path)


def test_without_resume_a_partial_build_starts_over(mini_copy):
    def stop(families: int, rows: int) -> None:
        raise Stop

    with pytest.raises(Stop):
        build_version(
            load_recipe(mini_copy / "trailforge.yaml"), workers=1, shard_size=10, on_progress=stop
        )
    result = build_version(load_recipe(mini_copy / "trailforge.yaml"), workers=1, shard_size=10)
    assert result.resumed_shards == 0 and result.path.exists()


def test_an_interrupt_while_writing_metadata_keeps_every_shard_for_resume(mini_copy, monkeypatch):
    from trailforge import factory

    def interrupted(*args, **kwargs):
        raise Stop

    shards = []
    with monkeypatch.context() as patch:
        patch.setattr(factory, "card_text", interrupted)  # after the merge, in the metadata
        with pytest.raises(Stop):
            build_version(
                load_recipe(mini_copy / "trailforge.yaml"),
                workers=1,
                shard_size=10,
                on_start=lambda families, total: shards.append(total),
            )
    resumed = build_version(
        load_recipe(mini_copy / "trailforge.yaml"), workers=1, shard_size=10, resume=True
    )
    assert shards[0] > 1 and resumed.resumed_shards == shards[0]  # no shard built twice
    assert not (resumed.path / "_parts").exists()
