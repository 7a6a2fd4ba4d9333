"""What changed between two built versions: rows per config and split, inputs, recipe fields."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from .dataset import read_manifest
from .errors import DatasetError
from .layout import parse_shard


@dataclass
class VersionDiff:
    rows: dict[tuple[str, str], tuple[int, int, int]]  # (config, split) -> (added, removed, kept)
    inputs: dict[str, str]  # path -> "changed" | "added" | "removed"
    recipe: dict[str, tuple[Any, Any]]  # field -> (old, new)
    tokenizers: tuple[list[str], list[str]] | None  # fingerprints (old, new) when they differ

    @property
    def identical(self) -> bool:
        return (
            not self.inputs
            and not self.recipe
            and self.tokenizers is None
            and all(a == r == 0 for a, r, _ in self.rows.values())
        )


def _ids(directory: Path, manifest: dict[str, Any]) -> dict[tuple[str, str], set[str]]:
    ids: dict[tuple[str, str], set[str]] = defaultdict(set)
    for name in manifest.get("files", {}):
        try:
            column = pq.read_table(directory / name, columns=["id"]).column("id").to_pylist()
        except (OSError, KeyError, pa.ArrowException) as exc:
            raise DatasetError(
                f"cannot read ids of {name}: {exc}",
                file=directory,
                hint="run `trailforge verify` on it",
            ) from None
        ids[parse_shard(name)].update(column)
    return ids


def diff_versions(old: Path, new: Path) -> VersionDiff:
    old_manifest, new_manifest = read_manifest(old), read_manifest(new)
    old_ids, new_ids = _ids(Path(old), old_manifest), _ids(Path(new), new_manifest)
    rows = {}
    for key in sorted(set(old_ids) | set(new_ids)):
        a, b = old_ids.get(key, set()), new_ids.get(key, set())
        rows[key] = (len(b - a), len(a - b), len(a & b))
    old_inputs, new_inputs = old_manifest.get("inputs", {}), new_manifest.get("inputs", {})
    inputs = {}
    for path in sorted(set(old_inputs) | set(new_inputs)):
        if path not in new_inputs:
            inputs[path] = "removed"
        elif path not in old_inputs:
            inputs[path] = "added"
        elif old_inputs[path] != new_inputs[path]:
            inputs[path] = "changed"
    old_recipe, new_recipe = old_manifest.get("recipe", {}), new_manifest.get("recipe", {})
    recipe = {
        k: (old_recipe.get(k), new_recipe.get(k))
        for k in sorted(set(old_recipe) | set(new_recipe))
        if old_recipe.get(k) != new_recipe.get(k)
    }
    old_fp = [t.get("fingerprint") for t in old_manifest.get("tokenizers", [])]
    new_fp = [t.get("fingerprint") for t in new_manifest.get("tokenizers", [])]
    return VersionDiff(
        rows=rows,
        inputs=inputs,
        recipe=recipe,
        tokenizers=None if old_fp == new_fp else (old_fp, new_fp),
    )
