"""The Python API, for notebooks and scripts: the CLI's build, verify, load, export and publish
as functions (`import trailforge; trailforge.build(...)`)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from .dataset import read_manifest
from .errors import DatasetError
from .export import export
from .factory import BuiltVersion, build_version
from .publish import publish
from .recipe import load_recipe
from .verify import Report
from .verify import verify as verify_version

__all__ = ["BuiltVersion", "build", "export", "load", "publish", "verify"]


def build(
    recipe: str | Path | None = None,
    *,
    workers: int | None = None,
    engine: str = "local",
    resume: bool = False,
    **overrides: Any,
) -> BuiltVersion:
    """Build a recipe (default: ./trailforge.yaml, else the bundled default) and return the
    version built. `overrides` replace recipe fields, as the CLI's options do: `output` (a
    folder, relative to the current one), `version`, `seed`, `limit`, `tokenizers`, or any other
    field (`variants_per_trail=6`). Raises a TrailforgeError subclass for anything the user can
    fix; an existing version built from the same inputs is returned as it is."""
    if overrides.get("output") is not None:
        overrides["output"] = str(Path(overrides["output"]).resolve())
    return build_version(
        load_recipe(Path(recipe) if recipe else None, **overrides),
        workers=workers,
        engine=engine,
        resume=resume,
    )


def verify(directory: str | Path) -> Report:
    """Re-check a version folder from its bytes (`trailforge verify`); `report.ok` is the verdict
    and `report.checks` says what was checked and what breached."""
    return verify_version(Path(directory))


def load(directory: str | Path, config: str = "trails", split: str | None = None) -> Any:
    """A config of a version as `datasets` loads it (a DatasetDict, or a Dataset for `split`).

    The cache is keyed by the version's manifest, so a folder rebuilt in place with other bytes
    never loads a stale copy (`datasets` alone keys a local folder by its name and layout)."""
    import datasets

    directory = Path(directory)
    manifest = read_manifest(directory)
    if config not in manifest.get("configs", {}):
        raise DatasetError(
            f"the version has no {config!r} config",
            file=directory / "manifest.json",
            hint=f"its configs: {', '.join(manifest.get('configs', {}))}",
        )
    if split is not None and split not in manifest["configs"][config]:
        raise DatasetError(
            f"config {config!r} has no {split!r} split",
            file=directory,
            hint=f"its splits: {', '.join(manifest['configs'][config])}",
        )
    digest = hashlib.sha256((directory / "manifest.json").read_bytes()).hexdigest()[:16]
    root = Path(os.environ.get("HF_DATASETS_CACHE") or datasets.config.HF_DATASETS_CACHE)
    return datasets.load_dataset(
        str(directory), config, split=split, cache_dir=str(root / "trailforge" / digest)
    )
