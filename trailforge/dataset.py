"""Reading a built version back: its manifest and rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from .errors import DatasetError


def read_manifest(directory: Path) -> dict[str, Any]:
    path = Path(directory) / "manifest.json"
    if not Path(directory).is_dir():
        raise DatasetError("dataset folder not found", file=directory,
                           hint="pass a version folder such as out/ski-tracks/0.1.0")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetError("no manifest.json: not a trailforge version folder", file=directory,
                           hint="pass a version folder such as out/ski-tracks/0.1.0") from None
    except (OSError, ValueError) as exc:
        raise DatasetError(f"unreadable manifest: {exc}", file=path) from None


def read_table(directory: Path, config: str = "trails") -> pa.Table:
    """All rows of a config, split files concatenated in manifest order."""
    manifest = read_manifest(directory)
    names = [n for n in manifest.get("files", {}) if n.startswith(f"data/{config}/")]
    if not names:
        raise DatasetError(f"no {config} files in the manifest", file=Path(directory) / "manifest.json")
    try:
        return pa.concat_tables([pq.read_table(Path(directory) / n) for n in names])
    except (OSError, pa.ArrowInvalid) as exc:
        raise DatasetError(f"cannot read {config} shards: {exc}", file=directory,
                           hint="run `trailforge verify` on the folder") from None
