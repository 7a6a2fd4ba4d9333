"""One shard of a build: its families become sorted part files on disk, plus a small summary.

A shard is a pure function of (recipe, input files, shard index). It writes, for every config and
split, a part file whose rows carry a sort key (`_key`); the final files are a k-way merge of the
parts by that key, so the output never depends on which worker built which shard or when, and memory
stays bounded by one shard. A `done/shard-NNNNN.json` marker, written last, records the parts'
hashes and the summary, so an interrupted build can resume without redoing finished shards.
"""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import pyarrow as pa

from .build import Inputs, WorkItem, build_rows
from .configs import CONFIGS
from .curriculum import MutationStats
from .seeding import stable_hash
from .write import PART_SUFFIX, sha256_file, write_part

KEY = "_key"


@dataclass(frozen=True)
class ShardJob:
    index: int
    items: tuple[WorkItem, ...]
    parts_dir: str


def items_hash(items: Sequence[WorkItem]) -> str:
    return stable_hash(*(item.key for item in items))


def part_path(parts_dir: Path, config: str, split: str, index: int) -> Path:
    return parts_dir / config / split / f"part-{index:05d}{PART_SUFFIX}"


def marker_path(parts_dir: Path, index: int) -> Path:
    return parts_dir / "done" / f"shard-{index:05d}.json"


def _families(rows: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    families: list[list[dict[str, Any]]] = []
    for row in rows:
        if families and families[-1][0]["family_id"] == row["family_id"]:
            families[-1].append(row)
        else:
            families.append([row])
    return families


def _keys(family: list[dict[str, Any]], order: str, seed: int, rank: dict[int, int]
          ) -> tuple[str | None, list[str]]:
    """Sort keys of a family's rows: curriculum (stage, rarity, family, member), where the family
    stays whole (its key prefix is returned as its block key), or a seeded shuffle (no block)."""
    if order == "shuffle":
        return None, [stable_hash(seed, "shuffle", row["split"], row["id"])[:32] for row in family]
    base = family[0]
    prefix = f"{rank[base['stage']]:03d}|{base['rarity']:.6f}|{base['family_id']}"
    return prefix, [f"{prefix}|{member:04d}" for member in range(len(family))]


def _summary(rows: list[dict[str, Any]], labels: list[str]) -> dict[str, Any]:
    def count(key: str) -> dict[str, int]:
        return dict(Counter(str(r[key]) for r in rows))

    histograms: dict[str, Counter] = {label: Counter() for label in labels}
    for row in rows:
        for label, value in (row["token_distance"] or {}).items():
            histograms[label][str(value)] += 1
    return {
        "by_stage": count("stage"), "by_domain": count("domain"), "by_role": count("role"),
        "by_view": count("view"),
        "by_op": dict(Counter(r["mutation"]["op"] if r["mutation"] else "base" for r in rows)),
        "label_flipped": sum(1 for r in rows if r["label_flipped"]),
        "token_distance_histogram": {k: dict(v) for k, v in histograms.items()},
        "base_text_hashes": sorted(stable_hash(r["text"])[:16] for r in rows if r["depth"] == 0),
    }


def _table(rows: Sequence[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    """Rows as an Arrow table, column by column (many times faster than row by row)."""
    return pa.Table.from_pydict({name: [row[name] for row in rows] for name in schema.names},
                                schema=schema)


def _part_keys(ids: Sequence[str], key_of: dict[str, str], family_of: dict[str, str]) -> list[str]:
    """Sort keys of a part's rows: the key of the trails row each comes from, then its position
    among its family's rows in the part (families are contiguous)."""
    keys, family, n = [], None, 0
    for row_id in ids:
        n = n + 1 if family_of[row_id] == family else 0
        family = family_of[row_id]
        keys.append(f"{key_of[row_id]}|{n:02d}")
    return keys


def _write_part(table: pa.Table, keys: list[str], blocks: list[str], path: Path) -> str:
    """Rows sorted by key, with the key of their merge block (see `write._Part`) as `_key`."""
    order = sorted(range(len(keys)), key=keys.__getitem__)
    table = table.take(pa.array(order, pa.int64())).append_column(
        KEY, pa.array([blocks[i] for i in order], pa.string()))
    path.parent.mkdir(parents=True, exist_ok=True)
    write_part([table], table.schema, path)
    return sha256_file(path)


def run_shard(inputs: Inputs, job: ShardJob) -> dict[str, Any]:
    """Build one shard into part files; returns (and records in its marker) the shard summary.

    Only `trails` and the configs that need whole families get parts; row-wise configs are
    projected from the merged `trails`."""
    recipe = inputs.recipe
    labels = [t.label for t in inputs.tokenizers]
    rows, stats = build_rows(inputs, job.items)
    rank = {stage: i for i, stage in enumerate(recipe.stages)}
    by_split: dict[str, list[dict[str, Any]]] = defaultdict(list)
    key_of: dict[str, str] = {}
    block_of: dict[str, str | None] = {}
    for family in _families(rows):
        block, keys = _keys(family, recipe.order, recipe.seed, rank)
        for row, key in zip(family, keys):
            key_of[row["id"]] = key
            block_of[row["id"]] = block
        by_split[family[0]["split"]].extend(family)
    family_of = {row["id"]: row["family_id"] for row in rows}
    parts_dir = Path(job.parts_dir)
    parts: dict[str, str] = {}
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for split, split_rows in sorted(by_split.items()):
        trails = _table(split_rows, CONFIGS["trails"].schema(labels))  # whole families, in order
        tables = {config: spec.project(trails) for config, spec in CONFIGS.items()
                  if config == "trails" or not spec.rowwise}
        for config, table in tables.items():
            if table.num_rows:
                ids = table["id"].to_pylist()
                keys = _part_keys(ids, key_of, family_of)
                blocks = [block_of[i] or key for i, key in zip(ids, keys)]  # merge units
                path = part_path(parts_dir, config, split, job.index)
                parts[path.relative_to(parts_dir).as_posix()] = _write_part(table, keys, blocks, path)
                counts[config][split] = table.num_rows
    first = _families(rows)[0] if rows and job.index == 0 else []  # the card shows one family
    result = {
        "index": job.index, "items": items_hash(job.items), "families": len(job.items),
        "rows": len(rows),
        "counts": dict(counts), "parts": parts, "mutations": stats.as_raw(),
        "summary": _summary(rows, labels), "sample": first[:8],
    }
    marker = marker_path(parts_dir, job.index)
    marker.parent.mkdir(parents=True, exist_ok=True)
    temp = marker.with_suffix(".tmp")
    temp.write_text(json.dumps(result, sort_keys=True), encoding="utf-8")
    os.replace(temp, marker)  # the marker appears only once every part is complete
    return result


def finished_shard(parts_dir: Path, job: ShardJob) -> dict[str, Any] | None:
    """The recorded result of a shard built from the same items with all its parts intact, else
    None (build it again)."""
    marker = marker_path(parts_dir, job.index)
    try:
        result = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if result.get("items") != items_hash(job.items):
        return None
    for name, digest in result.get("parts", {}).items():
        path = parts_dir / name
        if not path.is_file() or sha256_file(path) != digest:
            return None
    return result


def merged_stats(results: Sequence[dict[str, Any]]) -> MutationStats:
    stats = MutationStats()
    for result in results:
        stats.merge(MutationStats.from_raw(result["mutations"]))
    return stats
