"""One shard of a build: its families become sorted part files on disk, plus a small summary.

A shard is a pure function of (recipe, input files, shard index). It writes, for every config and
split, a part file whose rows carry a sort key (`_key`); the final files are a k-way merge of the
parts by that key, so the output never depends on which worker built which shard or when, and memory
stays bounded by one shard. A `done/shard-NNNNN.json` marker, written last, records the parts'
hashes and the summary, so an interrupted build can resume without redoing finished shards.
"""

from __future__ import annotations

import gc
import json
import os
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import pyarrow as pa
import pyarrow.compute as pc

from .build import build_rows
from .configs import CONFIGS
from .family import MutationStats
from .inputs import Inputs
from .plan import WorkItem
from .seeding import stable_hash
from .write import PART_SUFFIX, sha256_file, write_part

KEY = "_key"


@dataclass(frozen=True)
class ShardJob:
    """One unit of parallel work: which families to build and where its parts go."""

    index: int
    items: tuple[WorkItem, ...]
    parts_dir: str

    def to_json(self) -> str:
        return json.dumps(
            {
                "index": self.index,
                "parts_dir": self.parts_dir,
                "items": [asdict(item) for item in self.items],
            }
        )

    @classmethod
    def from_json(cls, text: str) -> "ShardJob":
        job = json.loads(text)
        return cls(
            index=job["index"],
            items=tuple(WorkItem(**item) for item in job["items"]),
            parts_dir=job["parts_dir"],
        )


@dataclass(frozen=True)
class ShardResult:
    """What a built shard reports, and records in its marker for --resume.

    `items` is the hash of the shard's work items; `counts` its rows per config and split;
    `parts` the sha256 of each part file; `mutations` its raw MutationStats; `summary` its rows
    by stage, domain, role, view and op, label flips, token distance histograms and base text
    hashes; `sample` the first family's rows (the card shows one), only in shard 0."""

    index: int
    items: str
    families: int
    rows: int
    counts: dict[str, dict[str, int]]
    parts: dict[str, str]
    mutations: dict[str, Any]
    summary: dict[str, Any]
    sample: list[dict[str, Any]]

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "ShardResult":
        return cls(**json.loads(text))


def items_hash(items: Sequence[WorkItem]) -> str:
    return stable_hash(*(item.key for item in items))


def part_path(parts_dir: Path, config: str, split: str, index: int) -> Path:
    return parts_dir / config / split / f"part-{index:05d}{PART_SUFFIX}"


def marker_path(parts_dir: Path, index: int) -> Path:
    return parts_dir / "done" / f"shard-{index:05d}.json"


def _families(family_ids: Sequence[str]) -> list[tuple[int, int]]:
    """(start, stop) of each family's rows; a family's rows are contiguous."""
    bounds, start = [], 0
    for i in range(1, len(family_ids) + 1):
        if i == len(family_ids) or family_ids[i] != family_ids[start]:
            bounds.append((start, i))
            start = i
    return bounds


def _keys(
    trails: pa.Table, order: str, seed: int, rank: dict[int, int]
) -> tuple[list[str], list[str | None]]:
    """Sort keys of the rows, and the key of each row's merge block: curriculum order keys (stage,
    rarity, family, member) and keeps each family whole as one block; a seeded shuffle keys rows
    one by one (no block)."""
    ids = trails["id"].to_pylist()
    if order == "shuffle":
        splits = trails["split"].to_pylist()
        return (
            [stable_hash(seed, "shuffle", split, row)[:32] for split, row in zip(splits, ids)],
            [None] * len(ids),
        )
    family_ids, stages = trails["family_id"].to_pylist(), trails["stage"].to_pylist()
    rarities = trails["rarity"].to_pylist()
    keys: list[str] = []
    blocks: list[str | None] = []
    for start, stop in _families(family_ids):
        # fixed width: a surprisal difficulty can pass 10 nats, and keys sort as strings
        block = f"{rank[stages[start]]:03d}|{rarities[start]:015.6f}|{family_ids[start]}"
        keys += [f"{block}|{member:04d}" for member in range(stop - start)]
        blocks += [block] * (stop - start)
    return keys, blocks


def _summary(trails: pa.Table, labels: list[str]) -> dict[str, Any]:
    def count(values: list[Any]) -> dict[str, int]:
        return {str(value): n for value, n in Counter(values).items()}

    ops = pc.struct_field(trails["mutation"], "op").to_pylist()
    histograms = {
        label: count(
            [
                d
                for d in pc.struct_field(trails["token_distance"], label).to_pylist()
                if d is not None
            ]
        )
        for label in labels
    }
    bases = trails.filter(pc.equal(trails["depth"], 0))["text"].to_pylist()
    return {
        **{
            f"by_{name}": count(trails[name].to_pylist())
            for name in ("stage", "domain", "role", "view")
        },
        "by_op": count([op or "base" for op in ops]),
        "label_flipped": sum(trails["label_flipped"].to_pylist()),
        "token_distance_histogram": histograms,
        "base_text_hashes": sorted(stable_hash(text)[:16] for text in bases),
    }


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
    order = pc.sort_indices(pa.array(keys, pa.string()))  # stable; UTF-8 sorts as code points
    table = table.take(order).append_column(KEY, pa.array(blocks, pa.string()).take(order))
    path.parent.mkdir(parents=True, exist_ok=True)
    write_part([table], table.schema, path)
    return sha256_file(path)


@contextmanager
def collecting_only_new_objects() -> Iterator[None]:
    """Inside, the cycle collector skips every object alive on entry: the inputs, and the caches
    that grow from shard to shard (tokenizer windows, skeletons), which otherwise every full
    collection walks again, a second or more of a 1M-row build per 100k cached windows. Those
    objects are frozen (`gc.freeze`) and handed back to the collector on exit, unless the caller
    had frozen objects itself (then everything stays frozen, as it asked)."""
    outer = gc.get_freeze_count() > 0
    gc.freeze()
    try:
        yield
    finally:
        if not outer:
            gc.unfreeze()


def run_shard(inputs: Inputs, job: ShardJob) -> ShardResult:
    """Build one shard into part files; returns (and records in its marker) the shard summary.

    Only `trails` and the configs that need whole families get parts; row-wise configs are
    projected from the merged `trails`."""
    with collecting_only_new_objects():
        return _run_shard(inputs, job)


def _run_shard(inputs: Inputs, job: ShardJob) -> ShardResult:
    recipe = inputs.recipe
    labels = [t.label for t in inputs.tokenizers]
    trails, stats = build_rows(inputs, job.items)
    ids = trails["id"].to_pylist()
    keys, blocks = _keys(
        trails, recipe.order, recipe.seed, {stage: i for i, stage in enumerate(recipe.stages)}
    )
    key_of, block_of = dict(zip(ids, keys)), dict(zip(ids, blocks))
    family_of = dict(zip(ids, trails["family_id"].to_pylist()))
    parts_dir = Path(job.parts_dir)
    parts: dict[str, str] = {}
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for split in sorted(set(trails["split"].to_pylist())):
        in_split = trails.filter(pc.equal(trails["split"], split))  # whole families, in order
        tables = {
            config: spec.project(in_split)
            for config, spec in CONFIGS.items()
            if config == "trails" or not spec.rowwise
        }
        for config, table in tables.items():
            if table.num_rows:
                part_ids = table["id"].to_pylist()
                part_keys = _part_keys(part_ids, key_of, family_of)
                part_blocks = [block_of[i] or key for i, key in zip(part_ids, part_keys)]
                path = part_path(parts_dir, config, split, job.index)
                parts[path.relative_to(parts_dir).as_posix()] = _write_part(
                    table, part_keys, part_blocks, path
                )
                counts[config][split] = table.num_rows
    first = _families(trails["family_id"].to_pylist())[0] if job.index == 0 and ids else (0, 0)
    result = ShardResult(
        index=job.index,
        items=items_hash(job.items),
        families=len(job.items),
        rows=trails.num_rows,
        counts=dict(counts),
        parts=parts,
        mutations=stats.as_raw(),
        summary=_summary(trails, labels),
        sample=trails.slice(0, min(first[1], 8)).to_pylist(),  # the card shows one family
    )
    marker = marker_path(parts_dir, job.index)
    marker.parent.mkdir(parents=True, exist_ok=True)
    temp = marker.with_suffix(".tmp")
    temp.write_text(result.to_json(), encoding="utf-8")
    os.replace(temp, marker)  # the marker appears only once every part is complete
    return result


def finished_shard(parts_dir: Path, job: ShardJob) -> ShardResult | None:
    """The recorded result of a shard built from the same items with all its parts intact, else
    None (build it again)."""
    marker = marker_path(parts_dir, job.index)
    try:
        result = ShardResult.from_json(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError):  # unreadable, or a marker of another layout
        return None
    if result.items != items_hash(job.items):
        return None
    for name, digest in result.parts.items():
        path = parts_dir / name
        if not path.is_file() or sha256_file(path) != digest:
            return None
    return result


def merged_stats(results: Sequence[ShardResult]) -> MutationStats:
    stats = MutationStats()
    for result in results:
        stats.merge(MutationStats.from_raw(result.mutations))
    return stats
