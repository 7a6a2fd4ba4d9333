"""Re-checking a built version: files against the manifest, the token bound, lineage, splits, card.

Every check re-derives what it checks from the bytes on disk; nothing is trusted from the build.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from .build import row_id
from .configs import CONFIGS, trails_schema
from .dataset import read_manifest
from .distance import token_distance
from .errors import DatasetError, TrailforgeError
from .tokenize import load_tokenizer
from .write import sha256_file

#: How many breaches of one check are listed (the count is always complete).
SHOWN = 20


@dataclass
class Check:
    """One invariant: how many things were checked and what breached it."""

    name: str
    checked: int = 0
    breaches: list[str] = field(default_factory=list)

    def fail(self, message: str) -> None:
        self.breaches.append(message)

    @property
    def ok(self) -> bool:
        return not self.breaches


@dataclass
class Report:
    directory: Path
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)


def _check_files(directory: Path, manifest: dict[str, Any], check: Check) -> dict[str, pa.Table]:
    """sha256 and row count of every listed file; unlisted shards; returns the readable tables."""
    tables: dict[str, pa.Table] = {}
    listed = manifest.get("files", {})
    for name, entry in listed.items():
        check.checked += 1
        path = directory / name
        if not path.is_file():
            check.fail(f"{name}: missing")
            continue
        if sha256_file(path) != entry.get("sha256"):
            check.fail(f"{name}: sha256 differs from the manifest (the file was changed)")
        try:
            tables[name] = pq.read_table(path)
        except (OSError, pa.ArrowException) as exc:
            check.fail(f"{name}: unreadable ({exc})")
            continue
        if tables[name].num_rows != entry.get("rows"):
            check.fail(f"{name}: {tables[name].num_rows} rows, manifest says {entry.get('rows')}")
    for path in sorted((directory / "data").rglob("*.parquet")):
        name = path.relative_to(directory).as_posix()
        if name not in listed:
            check.fail(f"{name}: not listed in the manifest")
    return tables


def _trails_rows(tables: dict[str, pa.Table], labels: list[str], check: Check) -> list[dict]:
    schema = trails_schema(labels)
    rows: list[dict] = []
    for name, table in tables.items():
        if not name.startswith("data/trails/"):
            continue
        check.checked += 1
        if not table.schema.equals(schema):
            check.fail(f"{name}: schema differs from the trails schema")
            continue
        split = name.split("/")[-1].split("-")[0]
        for row in table.to_pylist():
            if row["split"] != split:
                check.fail(f"{name}: row {row['id']} says split {row['split']!r}")
            rows.append(row)
    return rows


def _check_ids(rows: list[dict], check: Check) -> None:
    seen: set[str] = set()
    for row in rows:
        check.checked += 1
        op = row["mutation"]["op"] if row["mutation"] else None
        detail = row["mutation"]["detail"] if row["mutation"] else None
        expected = row_id(row["family_id"], row["parent_id"], op, detail, row["text"],
                          row["label_flipped"])
        if row["id"] != expected:
            check.fail(f"row {row['id']}: id is not the hash of its content (edited row?)")
        if row["id"] in seen:
            check.fail(f"row {row['id']}: duplicate id")
        seen.add(row["id"])
        if row["text"] != row["prompt"] + row["completion"]:
            check.fail(f"row {row['id']}: text is not prompt + completion")


def _check_lineage(rows: list[dict], by_id: dict[str, dict], check: Check) -> None:
    for row in rows:
        check.checked += 1
        parent_id = row["parent_id"]
        if parent_id is None:
            if row["depth"] != 0 or row["mutation"] is not None:
                check.fail(f"row {row['id']}: a base row must have depth 0 and no mutation")
            continue
        parent = by_id.get(parent_id)
        if parent is None:
            check.fail(f"row {row['id']}: parent {parent_id} does not exist")
            continue
        if parent["family_id"] != row["family_id"]:
            check.fail(f"row {row['id']}: parent {parent_id} is in another family")
        if parent["split"] != row["split"]:
            check.fail(f"row {row['id']}: parent {parent_id} is in split {parent['split']!r}, "
                       f"the row in {row['split']!r}")
        if row["depth"] != parent["depth"] + 1:
            check.fail(f"row {row['id']}: depth {row['depth']} is not parent depth + 1")


def _check_splits(rows: list[dict], manifest: dict[str, Any], check: Check) -> None:
    splits_of: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        splits_of[row["family_id"]].add(row["split"])
    for family, splits in sorted(splits_of.items()):
        check.checked += 1
        if len(splits) > 1:
            check.fail(f"family {family} spans splits {sorted(splits)}")
    ood = manifest.get("recipe", {}).get("ood", {})
    held_domains, held_roles = set(ood.get("domains", [])), set(ood.get("roles", []))
    for row in rows:
        if row["split"] != "ood" and (row["domain"] in held_domains or row["role"] in held_roles):
            check.fail(f"row {row['id']}: held-out {row['domain']}/{row['role']} in split "
                       f"{row['split']!r}")


def _check_bound(rows: list[dict], by_id: dict[str, dict], manifest: dict[str, Any],
                 check: Check) -> None:
    bound = manifest.get("recipe", {}).get("max_token_distance", 2)
    variants = [r for r in rows if r["parent_id"] is not None and r["parent_id"] in by_id]
    for entry in manifest.get("tokenizers", []):
        try:
            tok = load_tokenizer(entry["spec"])
        except TrailforgeError as exc:
            raise DatasetError(f"cannot load tokenizer {entry['spec']!r} to re-check the bound: "
                               f"{exc.message}", hint="run verify where that tokenizer is "
                               "available (a tokenizer.json is recorded by file name only)") from None
        if tok.fingerprint != entry.get("fingerprint"):
            check.fail(f"tokenizer {entry['spec']}: fingerprint differs from the one built with")
            continue
        label = entry["label"]
        parents = tok.encode_batch([by_id[r["parent_id"]]["text"] for r in variants])
        children = tok.encode_batch([r["text"] for r in variants])
        bases = {}
        for row, a, b in zip(variants, parents, children):
            check.checked += 1
            d = token_distance(a, b)
            stored = (row["token_distance"] or {}).get(label)
            if not 1 <= d <= bound:
                check.fail(f"row {row['id']}: {d} {label} tokens from its parent (bound {bound})")
            elif d != stored:
                check.fail(f"row {row['id']}: {label} distance is {d}, the row says {stored}")
            base_id = row["parent_id"]
            while by_id[base_id]["parent_id"] is not None and by_id[base_id]["parent_id"] in by_id:
                base_id = by_id[base_id]["parent_id"]
            bases.setdefault(base_id, tok.encode_batch([by_id[base_id]["text"]])[0])
            base_distance = (row["base_token_distance"] or {}).get(label)
            if token_distance(bases[base_id], b) != base_distance:
                check.fail(f"row {row['id']}: {label} distance to its base differs from the row")


def _check_card(directory: Path, manifest: dict[str, Any], tables: dict[str, pa.Table],
                check: Check) -> None:
    path = directory / "README.md"
    check.checked += 1
    try:
        front = yaml.safe_load(path.read_text(encoding="utf-8").split("---\n")[1])
        card_configs = {c["config_name"]: c for c in front["configs"]}
        card_sizes = {c["config_name"]: {s["name"]: s["num_examples"] for s in c["splits"]}
                      for c in front["dataset_info"]}
    except (OSError, IndexError, KeyError, TypeError, yaml.YAMLError) as exc:
        check.fail(f"README.md: the card's YAML front-matter is missing or malformed ({exc})")
        return
    actual: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for name, table in tables.items():
        _, config, file = name.split("/")
        actual[config][file.split("-")[0]] += table.num_rows
    actual_sizes = {c: dict(s) for c, s in actual.items()}
    if card_sizes != actual_sizes:
        check.fail(f"README.md: dataset_info sizes {card_sizes} differ from the files {actual_sizes}")
    if manifest.get("configs") != actual_sizes:
        check.fail("manifest.json: config sizes differ from the files")
    for config, entry in card_configs.items():
        for data in entry.get("data_files", []):
            prefix = data["path"].split("*")[0]
            if not any(n.startswith(prefix) for n in manifest.get("files", {})):
                check.fail(f"README.md: config {config} points at {data['path']}, which matches "
                           "no file")
    if set(card_configs) != set(actual_sizes):
        check.fail(f"README.md: configs {sorted(card_configs)} differ from the files "
                   f"{sorted(actual_sizes)}")


def _check_configs(tables: dict[str, pa.Table], labels: list[str], check: Check) -> None:
    """Every config's rows, per split, equal the projection of that split's `trails` rows."""
    stored: dict[tuple[str, str], list[pa.Table]] = defaultdict(list)
    for name in sorted(tables):  # shard names sort in file order
        _, config, file = name.split("/")
        stored[(config, file.split("-")[0])].append(tables[name])
    for (config, split), parts in sorted(stored.items()):
        if config == "trails":
            continue
        check.checked += 1
        if config not in CONFIGS:
            check.fail(f"config {config}: unknown to this trailforge")
            continue
        schema = CONFIGS[config].schema(labels)
        trails = stored.get(("trails", split), [])
        expected = CONFIGS[config].project(pa.concat_tables(trails) if trails else
                                           trails_schema(labels).empty_table())
        try:
            same = pa.concat_tables(parts).cast(schema).equals(expected.cast(schema))
        except (pa.ArrowInvalid, KeyError, ValueError):
            same = False
        if not same:
            check.fail(f"config {config}/{split}: rows differ from the projection of trails")


def verify(directory: Path, on_step: Callable[[str], None] | None = None) -> Report:
    """Run every check on a version folder. Raises DatasetError only for unusable input."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    labels = [t["label"] for t in manifest.get("tokenizers", [])]
    checks = {name: Check(name) for name in (
        "files match manifest", "trails schema", "row ids and text", "lineage",
        "families and held-out splits", "token bound", "card matches files",
        "configs match trails")}

    def step(name: str) -> Check:
        if on_step:
            on_step(name)
        return checks[name]

    tables = _check_files(directory, manifest, step("files match manifest"))
    rows = _trails_rows(tables, labels, step("trails schema"))
    by_id = {r["id"]: r for r in rows}
    _check_ids(rows, step("row ids and text"))
    _check_lineage(rows, by_id, step("lineage"))
    _check_splits(rows, manifest, step("families and held-out splits"))
    _check_bound(rows, by_id, manifest, step("token bound"))
    _check_card(directory, manifest, tables, step("card matches files"))
    _check_configs(tables, labels, step("configs match trails"))
    return Report(directory=directory, checks=list(checks.values()))
