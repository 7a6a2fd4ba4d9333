"""Writing a version: Parquet shards, dataset card, manifest and stats, atomically.

A version is built in a hidden temporary folder beside its final place and renamed at the end, so
an interrupted build leaves no version folder, and an existing version is never overwritten.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import shutil
import uuid
from collections import Counter, defaultdict
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator, Sequence

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from .errors import OutputError

ROWS_PER_FILE = 50_000
PARQUET_OPTIONS = {"compression": "zstd", "compression_level": 3, "row_group_size": 10_000}
PACKAGES = ("trailforge", "jinja2", "pyarrow", "datasets", "tokenizers", "tiktoken", "bpe-openai",
            "transformers", "rapidfuzz", "pydantic", "pyyaml")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def order_rows(rows: list[dict[str, Any]], order: str, seed: int, split: str,
               stage_order: Sequence[int]) -> list[dict[str, Any]]:
    """Curriculum order (stage, in the recipe's curriculum order, then rarity of the base trail so predictable trails come first, then
    family; within a family the base, its variants, then its walks by depth), or a seeded shuffle."""
    if order == "shuffle":
        shuffled = list(rows)
        random.Random(int(hashlib.sha256(f"{seed}:shuffle:{split}".encode()).hexdigest()[:16], 16)
                      ).shuffle(shuffled)
        return shuffled
    families: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        families[row["family_id"]].append(row)
    rank = {stage: i for i, stage in enumerate(stage_order)}
    keys = sorted(families, key=lambda f: (rank[families[f][0]["stage"]], families[f][0]["rarity"], f))
    return [row for key in keys for row in families[key]]


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def shard_name(split: str, index: int, count: int) -> str:
    return f"{split}-{index:05d}-of-{count:05d}.parquet"


def write_config(directory: Path, config: str, split: str, rows: list[dict[str, Any]],
                 schema: pa.Schema, rows_per_file: int = ROWS_PER_FILE) -> list[tuple[Path, int]]:
    """Write one split of one config as Hub-style shards; returns (file, rows) written."""
    count = max(1, math.ceil(len(rows) / rows_per_file))
    target = directory / "data" / config
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for index in range(count):
        chunk = rows[index * rows_per_file:(index + 1) * rows_per_file]
        table = pa.Table.from_pylist(chunk, schema=schema)
        path = target / shard_name(split, index, count)
        pq.write_table(table, path, **PARQUET_OPTIONS)
        written.append((path, len(chunk)))
    return written


def size_category(n: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                         (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M")):
        if n < limit:
            return label
    return "n>10M"


def card_text(meta: dict[str, Any], sizes: dict[str, dict[str, int]], body: str) -> str:
    """The dataset card: YAML front-matter the Hub and `datasets` read, then the human body.

    `sizes` maps each config to its rows per split; `trails` is the default config.
    """
    front = {
        "pretty_name": meta["pretty_name"],
        "license": "apache-2.0",
        "language": ["en"],
        "task_categories": ["text-generation"],
        "size_categories": [size_category(sum(sizes["trails"].values()))],
        "tags": ["reasoning", "curriculum", "synthetic", "micro-variants", "trailforge"],
        "configs": [
            {"config_name": config,
             "data_files": [{"split": s, "path": f"data/{config}/{s}-*.parquet"} for s in splits],
             **({"default": True} if config == "trails" else {})}
            for config, splits in sizes.items()],
        "dataset_info": [
            {"config_name": config,
             "splits": [{"name": s, "num_examples": n} for s, n in splits.items()]}
            for config, splits in sizes.items()],
    }
    return "---\n" + yaml.safe_dump(front, sort_keys=False, allow_unicode=True) + "---\n\n" + body


def stale_temp_dirs(parent: Path) -> list[Path]:
    """Temporary build folders left by processes that no longer run."""
    stale = []
    for path in parent.glob(".tmp-*"):
        try:
            pid = int(path.name.split("-")[-2])
            os.kill(pid, 0)
        except (ValueError, IndexError, ProcessLookupError):
            stale.append(path)
        except PermissionError:
            continue
    return stale


@contextmanager
def atomic_version_dir(final: Path) -> Iterator[Path]:
    """Yield a temporary folder; on success rename it to `final`, on any failure remove it."""
    if final.exists():
        raise OutputError("version folder already exists", file=final,
                          hint="bump `version` in the recipe (or --version); versions are immutable")
    final.parent.mkdir(parents=True, exist_ok=True)
    for stale in stale_temp_dirs(final.parent):
        shutil.rmtree(stale, ignore_errors=True)
    temp = final.parent / f".tmp-{final.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    temp.mkdir()
    try:
        yield temp
        if final.exists():
            raise OutputError("version folder appeared while building", file=final,
                              hint="another build wrote this version; bump the version")
        os.rename(temp, final)
    finally:
        if temp.exists():
            shutil.rmtree(temp, ignore_errors=True)


def count_by(rows: Sequence[dict[str, Any]], *keys: str) -> dict[str, int]:
    counter = Counter("/".join(str(row[k]) for k in keys) for row in rows)
    return dict(sorted(counter.items()))


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=False, ensure_ascii=False) + "\n",
                    encoding="utf-8")
