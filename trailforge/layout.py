"""The layout of a version folder, in one place: where each config's shards live and how their
names read back.

    <version>/README.md, manifest.json, stats.json
    <version>/data/<config>/<split>-<index:05d>-of-<count:05d>.parquet
    <version>/tokenizers/<label>.json | <label>/   (copies of file tokenizers)
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, NamedTuple

DATA = "data"
TOKENIZERS = "tokenizers"
#: The files of a version besides its data shards and tokenizer copies.
METADATA = ("README.md", "manifest.json", "stats.json")


class Shard(NamedTuple):
    """A data file's place: its config and split."""

    config: str
    split: str


def shard_name(config: str, split: str, index: int, count: int) -> str:
    """The version-relative name of a config's shard: data/<config>/<split>-0000i-of-0000N.parquet."""
    return f"{DATA}/{config}/{split}-{index:05d}-of-{count:05d}.parquet"


#: What `shard_name` writes, and nothing else (no `..`, no absolute or deeper paths).
SHARD_NAME = re.compile(rf"{DATA}/[A-Za-z0-9_]+/[A-Za-z0-9_]+-\d{{5}}-of-\d{{5}}\.parquet")


def shard_glob(config: str, split: str) -> str:
    """The pattern the card gives `datasets` for a config's split."""
    return f"{DATA}/{config}/{split}-*.parquet"


def parse_shard(name: str) -> Shard:
    """The config and split a shard name says (`shard_name` read back)."""
    _, config, file = name.split("/")
    return Shard(config, file.split("-")[0])


def config_files(names: Iterable[str], config: str) -> list[str]:
    """The shards of one config among `names`, in their order."""
    return [name for name in names if name.startswith(f"{DATA}/{config}/")]


def by_config(names: Iterable[str]) -> dict[str, dict[str, list[str]]]:
    """config -> split -> its shards, in the order of `names`."""
    out: dict[str, dict[str, list[str]]] = {}
    for name in names:
        shard = parse_shard(name)
        out.setdefault(shard.config, {}).setdefault(shard.split, []).append(name)
    return out


def tokenizer_copy(label: str, folder: bool) -> str:
    """Where a version keeps its copy of a file tokenizer (a folder for a model folder's files)."""
    return f"{TOKENIZERS}/{label}" if folder else f"{TOKENIZERS}/{label}.json"


def shard_path(directory: Path, config: str, split: str, index: int, count: int) -> Path:
    return directory / shard_name(config, split, index, count)
