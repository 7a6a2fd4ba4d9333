"""The Python API: README's example runs as written; the functions are never shadowed by the
submodules of the same name; bad input is a TrailforgeError."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

import trailforge
from trailforge.errors import DatasetError, RecipeError

from .conftest import ROOT


def readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Python API", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_example_runs_as_written(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", readme_example()],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "preference pairs in train" in done.stdout
    assert (tmp_path / "out-api" / "ski-tracks" / "0.1.0" / "manifest.json").is_file()


def test_submodules_never_shadow_the_api():
    import trailforge.build  # noqa: F401 - the modules of the same names, imported again
    import trailforge.publish  # noqa: F401
    import trailforge.verify  # noqa: F401

    for name in ("build", "verify", "load", "publish"):
        assert callable(getattr(trailforge, name)) and not isinstance(
            getattr(trailforge, name), type(sys)
        ), name


def test_load_caches_per_version_and_refuses_what_is_not_there(mini_build):
    pairs = trailforge.load(mini_build, "preference", split="train")
    assert len(pairs) and set(pairs.column_names) >= {"prompt", "chosen", "rejected"}
    with pytest.raises(DatasetError, match="no 'nonesuch' config"):
        trailforge.load(mini_build, "nonesuch")
    with pytest.raises(DatasetError, match="no 'holdout' split"):
        trailforge.load(mini_build, "text", split="holdout")


def test_build_with_a_bad_override_is_a_recipe_error(tmp_path):
    with pytest.raises(RecipeError):
        trailforge.build(output=str(tmp_path), variants_per_trail=-1)
    assert not any(tmp_path.iterdir())
