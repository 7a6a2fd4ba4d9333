"""Writing a version: Parquet shards, dataset card, manifest and stats, atomically.

A version is built in a hidden temporary folder beside its final place and renamed at the end, so
an interrupted build leaves no version folder, and an existing version is never overwritten. Rows
reach the final shards through a k-way merge of sorted per-shard parts (see `shard.py`).
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import json
import math
import os
import shutil
from collections import Counter
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


def _lock_owner(temp: Path) -> int | None:
    """The pid of the live process building in `temp`, or None."""
    try:
        pid = int((temp / ".lock").read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


@contextmanager
def version_workspace(final: Path, fingerprint: str, resume: bool = False) -> Iterator[Path]:
    """Yield the hidden folder `.tmp-<version>-<fingerprint>` beside `final`; rename it to `final`
    on success. An interrupt (Ctrl-C, SIGTERM) keeps the finished shards there for `--resume`; any
    other failure removes it. Either way no version folder appears unless the build completed."""
    if final.exists():
        raise OutputError("version folder already exists", file=final,
                          hint="bump `version` in the recipe (or --version); versions are immutable")
    final.parent.mkdir(parents=True, exist_ok=True)
    temp = final.parent / f".tmp-{final.name}-{fingerprint[:16]}"
    for other in final.parent.glob(f".tmp-{final.name}-*"):
        owner = _lock_owner(other)
        if owner is not None:
            raise OutputError(f"another build of this version is running (pid {owner})", file=other,
                              hint="wait for it; if no build is running, delete that folder")
        if other != temp or not resume:
            shutil.rmtree(other, ignore_errors=True)  # a stale or superseded partial build
    temp.mkdir(exist_ok=True)
    lock = temp / ".lock"
    lock.write_text(str(os.getpid()))
    try:
        yield temp
        lock.unlink()
        if final.exists():
            raise OutputError("version folder appeared while building", file=final,
                              hint="another build wrote this version; bump the version")
        os.rename(temp, final)
    except KeyboardInterrupt:
        lock.unlink(missing_ok=True)
        raise
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


#: Rows each part contributes to the merge at a time: the driver holds about parts x this many.
MERGE_BATCH = 256


def _keys_of(path: Path, key: str, index: int) -> Iterator[tuple[str, int]]:
    for batch in pq.ParquetFile(path).iter_batches(batch_size=MERGE_BATCH, columns=[key]):
        for value in batch.column(0).to_pylist():
            yield value, index


class _PartReader:
    """Hands out a part's rows in order, as Arrow tables, holding little more than asked for."""

    def __init__(self, path: Path) -> None:
        self._batches = pq.ParquetFile(path).iter_batches(batch_size=MERGE_BATCH)
        self._buffer: pa.Table | None = None

    def take(self, n: int) -> pa.Table:
        while self._buffer is None or self._buffer.num_rows < n:
            batch = pa.Table.from_batches([next(self._batches)])
            self._buffer = batch if self._buffer is None else pa.concat_tables([self._buffer, batch])
        head, self._buffer = self._buffer.slice(0, n), self._buffer.slice(n)
        return head


def merge_parts(parts: Sequence[Path], directory: Path, config: str, split: str, total: int,
                schema: pa.Schema, key: str, rows_per_file: int = ROWS_PER_FILE
                ) -> list[tuple[Path, int]]:
    """K-way merge of sorted part files by `key` into Hub-style shards of one config and split.

    Only keys go through Python; rows move as Arrow slices. The driver holds one batch of keys per
    part and one row group of rows, whatever the size of the split.
    """
    order = heapq.merge(*(_keys_of(p, key, i) for i, p in enumerate(parts)))
    readers = [_PartReader(p) for p in parts]
    count = max(1, math.ceil(total / rows_per_file))
    target = directory / "data" / config
    target.mkdir(parents=True, exist_ok=True)
    group = PARQUET_OPTIONS["row_group_size"]
    written = []
    for index in range(count):
        path = target / shard_name(split, index, count)
        n = min(rows_per_file, total - index * rows_per_file)
        with pq.ParquetWriter(path, schema, compression=PARQUET_OPTIONS["compression"],
                              compression_level=PARQUET_OPTIONS["compression_level"]) as writer:
            for start in range(0, n, group):
                sources = [part for _, part in itertools.islice(order, min(group, n - start))]
                needed = Counter(sources)
                blocks = {part: readers[part].take(k) for part, k in sorted(needed.items())}
                offsets, position = {}, 0
                for part, block in blocks.items():
                    offsets[part], position = position, position + block.num_rows
                picks = []
                for part in sources:
                    picks.append(offsets[part])
                    offsets[part] += 1
                combined = pa.concat_tables(list(blocks.values()))
                writer.write_table(combined.take(picks).select(schema.names).cast(schema))
        written.append((path, n))
    return written


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=False, ensure_ascii=False) + "\n",
                    encoding="utf-8")
