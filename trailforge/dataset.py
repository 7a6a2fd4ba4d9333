"""Reading a built version back: its manifest and rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from .errors import DatasetError
from .layout import METADATA, config_files, tokenizer_copy
from .tokenize import Tokenizer, load_tokenizer
from .write import sha256_file


def read_manifest(directory: Path) -> dict[str, Any]:
    path = Path(directory) / "manifest.json"
    if not Path(directory).is_dir():
        raise DatasetError(
            "dataset folder not found",
            file=directory,
            hint="pass a version folder such as out/ski-tracks/0.1.0",
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetError(
            "no manifest.json: not a trailforge version folder",
            file=directory,
            hint="pass a version folder such as out/ski-tracks/0.1.0",
        ) from None
    except (OSError, ValueError) as exc:
        raise DatasetError(
            f"unreadable manifest: {exc}",
            file=path,
            hint="a manifest is never edited: rebuild the version, or restore it from where it "
            "was published",
        ) from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files", {}), dict):
        raise DatasetError(
            "manifest.json is not a trailforge manifest (an object with `files`)",
            file=path,
            hint="rebuild the version; a manifest is never edited",
        )
    return manifest


def listed_files(manifest: dict[str, Any]) -> set[str]:
    """Every file a version consists of: card, manifest, stats, data shards, tokenizer copies."""
    copies = {name for entry in manifest.get("tokenizers", []) for name in entry.get("files", {})}
    return {*METADATA, *manifest.get("files", {}), *copies}


def recorded_tokenizer(
    directory: Path, entry: dict[str, Any], search: Path | None = None
) -> Tokenizer:
    """The tokenizer a manifest entry names. A file tokenizer comes from the version's own copy
    (`tokenizers/`), or with `search` from the file in that folder whose sha256 matches the
    copy's; an encoding or a Hub tokenizer loads by its spec. Comparing fingerprints is the
    caller's part. Raises TokenizerError where it cannot be loaded here."""
    files: dict[str, str] = entry.get("files") or {}
    label = entry["label"]
    if not files:
        return load_tokenizer(entry["spec"])
    single = tokenizer_copy(label, folder=False)
    where = Path(directory) / (single if single in files else tokenizer_copy(label, folder=True))
    if search is not None:
        key = single if single in files else next(iter(sorted(files)))
        found = next(
            (
                p
                for p in sorted(Path(search).rglob("*"))
                if p.is_file() and sha256_file(p) == files[key]
            ),
            None,
        )
        if found is None:
            raise DatasetError(
                f"no file in {search} matches tokenizer {label!r} (sha256 {files[key][:12]}…)",
                file=search,
                hint="pass the folder holding the tokenizer the version was built with",
            )
        where = found if single in files else found.parent
    return load_tokenizer(f"{label}={where}")


def read_table(directory: Path, config: str = "trails") -> pa.Table:
    """All rows of a config, split files concatenated in manifest order."""
    manifest = read_manifest(directory)
    names = config_files(manifest.get("files", {}), config)
    if not names:
        raise DatasetError(
            f"no {config} files in the manifest", file=Path(directory) / "manifest.json"
        )
    try:
        return pa.concat_tables([pq.read_table(Path(directory) / n) for n in names])
    except (OSError, pa.ArrowInvalid) as exc:
        raise DatasetError(
            f"cannot read {config} shards: {exc}",
            file=directory,
            hint="run `trailforge verify` on the folder",
        ) from None
