"""An interrupted build leaves no version folder and does not touch earlier versions."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from trailforge.factory import build_version
from trailforge.recipe import load_recipe

ROOT = Path(__file__).resolve().parent.parent


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def start_build(out: Path) -> subprocess.Popen:
    """The full default recipe (tens of seconds on 2 cores) as version 0.0.2, in a subprocess."""
    return subprocess.Popen(
        [sys.executable, "-m", "trailforge", "build", "--recipe", str(ROOT / "trailforge.yaml"),
         "--out", str(out), "--version", "0.0.2", "--workers", "2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "COLUMNS": "80"})


def wait_for_temp_dir(parent: Path, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if parent.exists() and any(parent.glob(".tmp-*")):
            return
        if process.poll() is not None:
            pytest.fail("the build finished before it could be interrupted")
        time.sleep(0.05)
    process.kill()
    pytest.fail("the build never started writing")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_killed_build_leaves_no_version(tmp_path, sig):
    earlier = build_version(load_recipe(ROOT / "trailforge.yaml", output=str(tmp_path),
                                        version="0.0.1", limit=20), workers=1)
    before = files_of(earlier.path)
    process = start_build(tmp_path)
    parent = tmp_path / "ski-tracks"
    wait_for_temp_dir(parent, process)
    time.sleep(2)  # well inside a build of tens of seconds
    assert process.poll() is None, "the build finished before it could be interrupted"
    process.send_signal(sig)
    process.wait(timeout=60)
    assert not (parent / "0.0.2").exists()
    assert files_of(earlier.path) == before
    if sig == signal.SIGTERM:
        assert process.returncode != 0
        assert not list(parent.glob(".tmp-*"))  # cleaned up on the way out
    # A later build of the same version removes any stale temporary folder and succeeds.
    later = build_version(load_recipe(ROOT / "trailforge.yaml", output=str(tmp_path),
                                      version="0.0.2", limit=20), workers=1)
    assert later.path.exists() and not list(parent.glob(".tmp-*"))
