"""Re-checking a built version: files against the manifest, the token bound, lineage, splits, card.

Every check re-derives what it checks from the bytes on disk; nothing is trusted from the build.
Memory stays bounded by a few narrow Arrow columns of the `trails` rows (the index): wide columns
are streamed in batches, and the config check holds one split's `trails` rows at a time.
"""

from __future__ import annotations

import json
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from functools import reduce
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

from .configs import CONFIGS, Config, row_id, trails_schema
from .dataset import listed_files, read_manifest, recorded_tokenizer
from .distance import token_distance
from .errors import DatasetError, TrailforgeError
from .layout import SHARD_NAME, parse_shard
from .recipe import VERSION_RE
from .seeding import version_fingerprint
from .tokenize import Tokenizer
from .write import sha256_file

#: How many breaches of one check are listed (the count is always complete).
SHOWN = 20

#: What reading a damaged Parquet file raises.
_READ_ERRORS = (OSError, pa.ArrowException)
#: The narrow `trails` columns kept in memory for every row (plus `mutated`, from `mutation`).
_INDEX_COLUMNS = [
    "id",
    "family_id",
    "parent_id",
    "depth",
    "split",
    "domain",
    "role",
    "view",
    "text",
    "token_distance",
    "base_token_distance",
]
#: The columns the row id is the hash of, and the text check, streamed batch by batch.
_ID_COLUMNS = [
    "id",
    "family_id",
    "parent_id",
    "mutation",
    "text",
    "label_flipped",
    "prompt",
    "completion",
]
_BATCH_ROWS = 16_384
#: Variants re-encoded per `encode_batch` call in the bound check.
_BOUND_CHUNK = 4096


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


#: The fields of a manifest that verify reads, and the type a build writes each in.
_MANIFEST_FIELDS: dict[str, type] = {
    "recipe": dict,
    "inputs": dict,
    "tokenizers": list,
    "rows": dict,
    "configs": dict,
    "card": dict,
    "files": dict,
}
#: Every top-level key a build writes (`difficulty_model` only with `difficulty: surprisal`).
_MANIFEST_KEYS = frozenset(
    {
        *_MANIFEST_FIELDS,
        "name",
        "version",
        "trailforge_version",
        "built_at",
        "build_seconds",
        "seed",
        "inputs_fingerprint",
        "difficulty_model",
        "packages",
    }
)


def _well_formed(manifest: dict[str, Any], check: Check) -> dict[str, Any]:
    """The manifest with every field verify reads in the type a build writes it in. A field of
    another type, a file entry that is not a shard of the layout (or points outside the folder),
    a tokenizer entry without label and spec, or a key no build writes is a breach (an edited
    manifest); the bad part reads as empty, so every other check still runs."""
    check.checked += 1
    shaped = dict(manifest)
    for key, kind in _MANIFEST_FIELDS.items():
        if not isinstance(manifest.get(key, kind()), kind):
            check.fail(
                f"manifest.json: `{key}` is {type(manifest[key]).__name__}, not "
                f"{kind.__name__} (an edited manifest?)"
            )
            shaped[key] = kind()
    shaped["files"] = {}
    for name, entry in (manifest.get("files") or {}).items():
        if SHARD_NAME.fullmatch(name) and isinstance(entry, dict):
            shaped["files"][name] = entry
        else:
            check.fail(
                f"manifest.json: files entry {name!r} is not a shard entry "
                "(data/<config>/<split>-NNNNN-of-NNNNN.parquet with its sha256, rows and bytes)"
            )
    shaped["tokenizers"] = [
        t
        for t in shaped["tokenizers"]
        if isinstance(t, dict)
        and isinstance(t.get("label"), str)
        and isinstance(t.get("spec"), str)
        and isinstance(t.get("files", {}), dict)
    ]
    if isinstance(manifest.get("tokenizers"), list) and len(shaped["tokenizers"]) != len(
        manifest["tokenizers"]
    ):
        check.fail("manifest.json: a `tokenizers` entry lacks its label, spec or files")
    unknown = sorted(set(manifest) - _MANIFEST_KEYS)
    if unknown:
        check.fail(f"manifest.json: keys no build writes: {unknown}")
    return shaped


def _check_copies(directory: Path, manifest: dict[str, Any], check: Check) -> set[str]:
    """sha256 of every file tokenizer's copy in the version; the labels of those missing or
    changed (the bound is not re-checked under them)."""
    damaged = set()
    for entry in manifest["tokenizers"]:
        for name, digest in entry.get("files", {}).items():
            check.checked += 1
            if not (directory / name).is_file():
                check.fail(f"{name}: missing (a copy of tokenizer {entry['label']!r})")
                damaged.add(entry["label"])
            elif sha256_file(directory / name) != digest:
                check.fail(f"{name}: sha256 differs from the manifest (the file was changed)")
                damaged.add(entry["label"])
    return damaged


def _check_files(directory: Path, manifest: dict[str, Any], check: Check) -> dict[str, int]:
    """sha256, size and row count of every listed shard; files the manifest does not list.

    Returns the readable files' row counts, read from their Parquet footers, in manifest order.
    """
    sizes: dict[str, int] = {}
    listed = manifest.get("files", {})
    for name, entry in listed.items():
        check.checked += 1
        path = directory / name
        if not path.is_file():
            check.fail(f"{name}: missing")
            continue
        if sha256_file(path) != entry.get("sha256"):
            check.fail(f"{name}: sha256 differs from the manifest (the file was changed)")
        size = path.stat().st_size
        if size != entry.get("bytes"):
            check.fail(f"{name}: {size} bytes, manifest says {entry.get('bytes')!r}")
        try:
            sizes[name] = pq.read_metadata(path).num_rows
        except _READ_ERRORS as exc:
            check.fail(f"{name}: unreadable ({exc})")
            continue
        if sizes[name] != entry.get("rows"):
            check.fail(f"{name}: {sizes[name]} rows, manifest says {entry.get('rows')}")
    known = listed_files(manifest)
    for path in sorted(directory.rglob("*")):
        name = path.relative_to(directory).as_posix()
        if path.is_file() and name not in known:
            check.fail(f"{name}: not listed in the manifest (publish would not send it)")
    return sizes


def _read(path: Path, columns: list[str] | None = None) -> pa.Table:
    """A Parquet file's rows (only `columns`, when given)."""
    with pq.ParquetFile(path) as file:
        return file.read(columns=columns)


def _narrow(table: pa.Table) -> pa.Table:
    """A `trails` table's index columns; `mutated` says whether the row has a mutation, `flip`
    whether that mutation is a flip (held to the flip bound)."""
    flip = pc.fill_null(pc.equal(pc.struct_field(table["mutation"], "op"), "flip"), False)
    return (
        table.select(_INDEX_COLUMNS)
        .append_column("mutated", pc.is_valid(table["mutation"]))
        .append_column("flip", flip)
    )


def _read_index(
    directory: Path, names: list[str], labels: list[str], check: Check
) -> tuple[list[str], pa.Table]:
    """The index of every readable `trails` file with the trails schema, concatenated in file order.

    Checks each file's schema and that its rows say its split; returns the files indexed, too.
    """
    schema = trails_schema(labels)
    indexed: list[str] = []
    parts: list[pa.Table] = []
    for name in names:
        if parse_shard(name).config != "trails":
            continue
        check.checked += 1
        try:
            if not pq.read_schema(directory / name).equals(schema):
                check.fail(f"{name}: schema differs from the trails schema")
                continue
            part = _narrow(_read(directory / name, [*_INDEX_COLUMNS, "mutation"]))
        except _READ_ERRORS as exc:
            check.fail(f"{name}: unreadable ({exc})")
            continue
        _check_split_column(name, part, check)
        indexed.append(name)
        parts.append(part)
    return indexed, pa.concat_tables(parts) if parts else _narrow(schema.empty_table())


def _check_split_column(name: str, part: pa.Table, check: Check) -> None:
    """Every row of a `trails` file says the split its file name says."""
    split = parse_shard(name).split
    wrong = part.filter(pc.fill_null(pc.not_equal(part["split"], split), True))
    for row, row_split in zip(wrong["id"].to_pylist(), wrong["split"].to_pylist()):
        check.fail(f"{name}: row {row} says split {row_split!r}")


def _check_ids(directory: Path, names: list[str], index: pa.Table, check: Check) -> None:
    """Ids are the hash of their rows' content and unique; text is prompt + completion."""
    for name in names:
        try:
            with pq.ParquetFile(directory / name) as file:
                for batch in file.iter_batches(batch_size=_BATCH_ROWS, columns=_ID_COLUMNS):
                    _check_id_batch(batch, check)
        except _READ_ERRORS as exc:
            check.fail(f"{name}: unreadable ({exc})")
    counts = pc.value_counts(index["id"])
    repeated = counts.filter(pc.greater(counts.field("counts"), 1))
    for value, count in zip(
        repeated.field("values").to_pylist(), repeated.field("counts").to_pylist()
    ):
        for _ in range(count - 1):
            check.fail(f"row {value}: duplicate id")


def _check_id_batch(batch: pa.RecordBatch, check: Check) -> None:
    """The id and text checks on one batch of `_ID_COLUMNS`."""
    check.checked += batch.num_rows
    joined = pc.binary_join_element_wise(batch["prompt"], batch["completion"], "")
    text_ok = pc.fill_null(pc.equal(batch["text"], joined), False).to_pylist()
    columns = [batch[name].to_pylist() for name in ("id", "family_id", "parent_id")]
    columns += [pc.struct_field(batch["mutation"], part).to_pylist() for part in ("op", "detail")]
    columns += [batch[name].to_pylist() for name in ("text", "label_flipped")]
    for (row, family, parent, op, detail, text, flipped), ok in zip(zip(*columns), text_ok):
        if row != row_id(family, parent, op, detail, text, flipped):
            check.fail(f"row {row}: id is not the hash of its content (edited row?)")
        if not ok:
            check.fail(f"row {row}: text is not prompt + completion")


def _numpy(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """An Arrow array without nulls as numpy."""
    return np.asarray(values.to_numpy())


def _parent_positions(index: pa.Table) -> np.ndarray:
    """Each row's parent's position in the index; -1 where it has none or the parent is missing."""
    found = pc.index_in(index["parent_id"], value_set=index["id"].combine_chunks())
    return _numpy(pc.fill_null(found, -1)).astype(np.int64)


def _differs(a: pa.ChunkedArray, b: pa.ChunkedArray) -> np.ndarray:
    """Element-wise `a != b` as Python compares values (None equals only None)."""
    both_null = pc.and_(pc.is_null(a), pc.is_null(b))
    return _numpy(pc.and_not(pc.fill_null(pc.not_equal(a, b), True), both_null))


def _scatter(n: int, rows: np.ndarray, values: np.ndarray) -> np.ndarray:
    """A length-n boolean array, `values` at `rows` and False elsewhere."""
    out = np.zeros(n, dtype=bool)
    out[rows] = values
    return out


def _check_lineage(index: pa.Table, parent: np.ndarray, check: Check) -> None:
    """Parents exist, in the same family and split, one level up; base rows are unmutated roots."""
    n = index.num_rows
    check.checked += n
    has_parent = _numpy(pc.is_valid(index["parent_id"]))
    child = np.flatnonzero(parent >= 0)
    mine, theirs = (
        index.select(["family_id", "split", "depth"]).take(rows) for rows in (child, parent[child])
    )
    bad_base = ~has_parent & _numpy(
        pc.or_(pc.fill_null(pc.not_equal(index["depth"], 0), True), index["mutated"])
    )
    missing = has_parent & (parent < 0)
    family = _scatter(n, child, _differs(mine["family_id"], theirs["family_id"]))
    split = _scatter(n, child, _differs(mine["split"], theirs["split"]))
    depth = _scatter(
        n,
        child,
        _numpy(pc.fill_null(pc.not_equal(mine["depth"], pc.add(theirs["depth"], 1)), True)),
    )
    bad = np.flatnonzero(bad_base | missing | family | split | depth)
    rows = index.select(["id", "parent_id", "split", "depth"]).take(bad).to_pylist()
    parent_splits = index["split"].take(np.maximum(parent[bad], 0)).to_pylist()
    for i, row, parent_split in zip(bad.tolist(), rows, parent_splits):
        name, parent_id = f"row {row['id']}", row["parent_id"]
        if bad_base[i]:
            check.fail(f"{name}: a base row must have depth 0 and no mutation")
        if missing[i]:
            check.fail(f"{name}: parent {parent_id} does not exist")
        if family[i]:
            check.fail(f"{name}: parent {parent_id} is in another family")
        if split[i]:
            check.fail(
                f"{name}: parent {parent_id} is in split {parent_split!r}, "
                f"the row in {row['split']!r}"
            )
        if depth[i]:
            check.fail(f"{name}: depth {row['depth']} is not parent depth + 1")


def _check_splits(index: pa.Table, manifest: dict[str, Any], check: Check) -> None:
    """No family spans splits; held-out domains, roles and views stay in `ood`."""
    families = index.group_by("family_id").aggregate([("split", "distinct")])
    check.checked += families.num_rows
    spans = families.filter(pc.greater(pc.list_value_length(families["split_distinct"]), 1))
    for family in sorted(spans.to_pylist(), key=lambda f: f["family_id"]):
        check.fail(f"family {family['family_id']} spans splits {sorted(family['split_distinct'])}")
    ood = manifest.get("recipe", {}).get("ood", {})
    held = [
        pc.is_in(index[column], value_set=pa.array(ood.get(key, []), pa.string()))
        for column, key in (("domain", "domains"), ("role", "roles"), ("view", "views"))
    ]
    outside = pc.fill_null(pc.not_equal(index["split"], "ood"), True)
    leaks = index.select(["id", "domain", "role", "view", "split"]).filter(
        pc.and_(outside, reduce(pc.or_, held))
    )
    for row in leaks.to_pylist():
        check.fail(
            f"row {row['id']}: held-out {row['domain']}/{row['role']}/{row['view']} in "
            f"split {row['split']!r}"
        )


def _bases(parent: np.ndarray) -> np.ndarray:
    """Each row's base: the last row reached by following existing parents (pointer doubling)."""
    up = np.where(parent >= 0, parent, np.arange(len(parent)))
    for _ in range(len(up).bit_length()):  # enough doublings for the longest possible chain
        higher = up[up]
        if np.array_equal(higher, up):
            break
        up = higher
    return up


def _load(directory: Path, entry: dict[str, Any], search: Path | None) -> Tokenizer:
    """The tokenizer a manifest entry names; DatasetError where it cannot be loaded here."""
    try:
        return recorded_tokenizer(directory, entry, search)
    except DatasetError:
        raise
    except TrailforgeError as exc:
        raise DatasetError(
            f"cannot load tokenizer {entry['spec']!r} to re-check the bound: {exc.message}",
            hint="run verify where that tokenizer is "
            "available, or pass --tokenizer-dir with its file",
        ) from None


def _check_bound(
    index: pa.Table,
    parent: np.ndarray,
    manifest: dict[str, Any],
    tokenizers: list[tuple[dict[str, Any], Tokenizer]],
    check: Check,
) -> None:
    """Re-encode every variant with each recorded tokenizer: the bound and the stored distances."""
    recipe = manifest.get("recipe", {})
    bound = recipe.get("max_token_distance", 2)
    bounds = (bound, recipe.get("max_flip_distance", bound))  # (meaning-preserving, flip)
    base = _bases(parent)
    variants = np.flatnonzero(parent >= 0)
    variants = variants[np.argsort(base[variants], kind="stable")]  # a base's variants together
    for entry, tok in tokenizers:
        if tok.fingerprint != entry.get("fingerprint"):
            check.fail(f"tokenizer {entry['spec']}: fingerprint differs from the one built with")
            continue
        found: list[tuple[int, str]] = []
        for start in range(0, len(variants), _BOUND_CHUNK):
            found += _bound_breaches(
                index,
                variants[start : start + _BOUND_CHUNK],
                parent,
                base,
                tok,
                entry["label"],
                bounds,
            )
        check.checked += len(variants)
        for _, message in sorted(found, key=lambda f: f[0]):  # in row order
            check.fail(message)


def _bound_breaches(
    index: pa.Table,
    rows: np.ndarray,
    parent: np.ndarray,
    base: np.ndarray,
    tok: Tokenizer,
    label: str,
    bounds: tuple[int, int],
) -> list[tuple[int, str]]:
    """(position, message) for some variants' breaches; each text needed is encoded once.
    `bounds` holds the bound of meaning-preserving edits and that of flips."""
    parents, bases = parent[rows].tolist(), base[rows].tolist()
    flips = index["flip"].take(rows).to_pylist()
    needed = np.unique(np.concatenate([rows, parent[rows], base[rows]]))
    encoded = dict(zip(needed.tolist(), tok.encode_batch(index["text"].take(needed).to_pylist())))
    ids = index["id"].take(rows).to_pylist()
    stored, stored_base = (
        pc.struct_field(index[column].take(rows), label).to_pylist()
        for column in ("token_distance", "base_token_distance")
    )
    found: list[tuple[int, str]] = []
    for i, position in enumerate(rows.tolist()):
        child = encoded[position]
        d = token_distance(encoded[parents[i]], child)
        bound = bounds[flips[i]]
        if not 1 <= d <= bound:
            found.append(
                (position, f"row {ids[i]}: {d} {label} tokens from its parent (bound {bound})")
            )
        elif d != stored[i]:
            found.append(
                (position, f"row {ids[i]}: {label} distance is {d}, the row says {stored[i]}")
            )
        if token_distance(encoded[bases[i]], child) != stored_base[i]:
            found.append(
                (position, f"row {ids[i]}: {label} distance to its base differs from the row")
            )
    return found


#: The configs whose prompt is followed by one or more completions, and those completions.
_PROMPTED = {"trails": ("completion",), "preference": ("chosen", "rejected")}


def _check_boundaries(
    directory: Path,
    names: list[str],
    tokenizers: list[tuple[dict[str, Any], Tokenizer]],
    check: Check,
) -> None:
    """Under every recorded tokenizer, tokens(prompt) is a prefix of tokens(prompt + completion)
    for every trails row and preference pair: what a trainer computes the loss on is what the
    model sees at inference."""
    tokenizers = [
        (entry["label"], tok)
        for entry, tok in tokenizers
        if tok.fingerprint == entry.get("fingerprint")
    ]  # else: a token bound breach
    for name in names:
        config = parse_shard(name).config
        if config not in _PROMPTED:
            continue
        try:
            with pq.ParquetFile(directory / name) as file:
                batches = list(
                    file.iter_batches(
                        batch_size=_BATCH_ROWS, columns=["id", "prompt", *_PROMPTED[config]]
                    )
                )
        except _READ_ERRORS:
            continue  # reported by the files and schema checks
        for batch in batches:
            ids, prompts = batch["id"].to_pylist(), batch["prompt"].to_pylist()
            check.checked += batch.num_rows
            for label, tok in tokenizers:
                heads = tok.encode_batch(prompts)
                for column in _PROMPTED[config]:
                    wholes = tok.encode_batch(
                        [p + c for p, c in zip(prompts, batch[column].to_pylist())]
                    )
                    for row, head, whole in zip(ids, heads, wholes):
                        if whole[: len(head)] != head:
                            check.fail(
                                f"{name}: row {row}: {label} tokens of the prompt are not a "
                                f"prefix of those of prompt + {column}"
                            )


def _check_trails(
    directory: Path,
    manifest: dict[str, Any],
    names: list[str],
    labels: list[str],
    tokenizers: list[tuple[dict[str, Any], Tokenizer]],
    step: Callable[[str], Check],
) -> None:
    """The row checks, on the index of the `trails` files (freed when they are done)."""
    indexed, index = _read_index(directory, names, labels, step("trails schema"))
    _check_ids(directory, indexed, index, step("row ids and text"))
    parent = _parent_positions(index)
    _check_lineage(index, parent, step("lineage"))
    _check_splits(index, manifest, step("families and held-out splits"))
    _check_bound(index, parent, manifest, tokenizers, step("token bound"))
    _check_worlds(directory, indexed, step("world logic"))


def _check_worlds(directory: Path, names: list[str], check: Check) -> None:
    """Every world row's `holds` is what the solver derives from its `logic`, and every flip of
    a world row changes it (its parent's `holds` differs)."""
    from .errors import WorldError
    from .worlds.logic import parse_logic, solve

    derived: dict[str, bool] = {}
    flips: list[tuple[str, str]] = []
    for name in names:
        try:
            with pq.ParquetFile(directory / name) as file:
                for batch in file.iter_batches(
                    batch_size=_BATCH_ROWS, columns=["id", "parent_id", "logic", "mutation"]
                ):
                    logic = batch["logic"]
                    check.checked += batch.num_rows  # a row without logic is a curated row
                    if logic.null_count == batch.num_rows:
                        continue
                    ops = pc.struct_field(batch["mutation"], "op").to_pylist()
                    for row, parent, text, op in zip(
                        batch["id"].to_pylist(),
                        batch["parent_id"].to_pylist(),
                        logic.to_pylist(),
                        ops,
                    ):
                        if text is None:
                            continue
                        try:
                            program, query, recorded = parse_logic(text)
                            truth = query in solve(program)
                        except WorldError as exc:
                            check.fail(f"row {row}: {exc.message}")
                            continue
                        if truth != recorded:
                            check.fail(
                                f"row {row}: logic says holds={str(recorded).lower()}, "
                                f"the solver derives {str(truth).lower()}"
                            )
                        derived[row] = truth
                        if op == "flip":
                            flips.append((row, parent))
        except _READ_ERRORS as exc:
            check.fail(f"{name}: unreadable ({exc})")
    for row, parent in flips:
        if parent in derived and derived[parent] == derived[row]:
            check.fail(
                f"row {row}: a flip that leaves holds={str(derived[row]).lower()} as its "
                "parent had it"
            )


def _check_manifest(
    directory: Path, manifest: dict[str, Any], sizes: dict[str, int], check: Check
) -> None:
    """What the manifest claims and can be re-derived: its name, version and seed against its
    recipe and the folder's name, its row totals against the files and stats.json, and its
    inputs fingerprint against the recipe, input hashes and tokenizers it records."""
    recipe = manifest.get("recipe") or {}
    check.checked += 1
    for key in ("name", "version", "seed"):
        if manifest.get(key) != recipe.get(key):
            check.fail(
                f"manifest.json: {key} {manifest.get(key)!r} differs from its recipe's "
                f"{recipe.get(key)!r}"
            )
    if VERSION_RE.fullmatch(directory.name) and directory.name != manifest.get("version"):
        check.fail(
            f"manifest.json: version {manifest.get('version')!r} differs from the folder "
            f"name {directory.name!r}"
        )
    by_split: dict[str, int] = defaultdict(int)
    for name, rows in sizes.items():
        shard = parse_shard(name)
        if shard.config == "trails":
            by_split[shard.split] += rows
    claimed = manifest.get("rows") or {}
    if claimed.get("total") != sum(by_split.values()) or claimed.get("by_split") != dict(by_split):
        check.fail(
            f"manifest.json: rows {claimed} differ from the trails files "
            f"({sum(by_split.values())}: {dict(by_split)})"
        )
    try:
        stats = json.loads((directory / "stats.json").read_text(encoding="utf-8"))
        if stats.get("rows") != sum(by_split.values()):
            check.fail(
                f"stats.json: {stats.get('rows')} rows, the trails files hold "
                f"{sum(by_split.values())}"
            )
    except (OSError, ValueError, AttributeError):
        check.fail("stats.json: missing or unreadable")
    models = [manifest["difficulty_model"]["fingerprint"]] if "difficulty_model" in manifest else []
    try:
        recomputed = version_fingerprint(
            manifest["trailforge_version"],
            recipe,
            manifest["inputs"],
            [t["fingerprint"] for t in manifest["tokenizers"]],
            models,
        )
    except (KeyError, TypeError, AttributeError):
        recomputed = None
    if recomputed != manifest.get("inputs_fingerprint"):
        check.fail(
            "manifest.json: the inputs fingerprint is not that of the recipe, inputs and "
            "tokenizers it records (an edited manifest?)"
        )


def _check_card(
    directory: Path, manifest: dict[str, Any], sizes: dict[str, int], check: Check
) -> None:
    """The card's configs and sizes, and the manifest's sizes, match the files."""
    path = directory / "README.md"
    check.checked += 1
    try:
        front = yaml.safe_load(path.read_text(encoding="utf-8").split("---\n")[1])
        card_configs = {c["config_name"]: c for c in front["configs"]}
        card_sizes = {
            c["config_name"]: {s["name"]: s["num_examples"] for s in c["splits"]}
            for c in front["dataset_info"]
        }
    except (OSError, IndexError, KeyError, TypeError, yaml.YAMLError) as exc:
        check.fail(f"README.md: the card's YAML front-matter is missing or malformed ({exc})")
        return
    actual: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for name, rows in sizes.items():
        config, split = parse_shard(name)
        actual[config][split] += rows
    actual_sizes = {c: dict(s) for c, s in actual.items()}
    if card_sizes != actual_sizes:
        check.fail(
            f"README.md: dataset_info sizes {card_sizes} differ from the files {actual_sizes}"
        )
    if manifest.get("configs") != actual_sizes:
        check.fail("manifest.json: config sizes differ from the files")
    for config, entry in card_configs.items():
        for data in entry.get("data_files", []):
            prefix = data["path"].split("*")[0]
            if not any(n.startswith(prefix) for n in manifest.get("files", {})):
                check.fail(
                    f"README.md: config {config} points at {data['path']}, which matches no file"
                )
    if set(card_configs) != set(actual_sizes):
        check.fail(
            f"README.md: configs {sorted(card_configs)} differ from the files "
            f"{sorted(actual_sizes)}"
        )
    if manifest["card"].get("path") != "README.md":
        check.fail(
            f"manifest.json: the card is recorded at {manifest['card'].get('path')!r}, "
            "not README.md"
        )
    recorded = manifest["card"].get("sha256")
    if recorded is None:
        check.fail("manifest.json: no hash of the card (README.md) is recorded")
    elif sha256_file(path) != recorded:
        check.fail(
            "README.md: the card was changed after the build (sha256 differs from the manifest)"
        )
    for message in _datasets_warnings(directory, sorted(card_configs)):
        check.fail(f"README.md: {message}")


def _datasets_warnings(directory: Path, configs: list[str]) -> list[str]:
    """What `datasets` warns about, or fails on, when it reads each config's card entry (in a
    throwaway cache, offline): a card the Hub's loader accepts only in part is a breach."""
    import logging

    import datasets

    found: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            found.append(f"datasets warns: {record.getMessage()}")

    logger = logging.getLogger("datasets")
    quiet = logger.handlers[:]  # collected, not printed
    for other in quiet:
        logger.removeHandler(other)
    handler = Collect(level=logging.WARNING)
    logger.addHandler(handler)
    try:
        with tempfile.TemporaryDirectory(prefix="trailforge-verify-") as cache:
            for config in configs:
                try:
                    datasets.load_dataset_builder(str(directory), config, cache_dir=cache)
                except Exception as exc:  # noqa: BLE001 - any failure to load is the finding
                    found.append(f"datasets cannot load config {config}: {exc}")
    finally:
        logger.removeHandler(handler)
        for other in quiet:
            logger.addHandler(other)
    return list(dict.fromkeys(found))


def _check_configs(directory: Path, sizes: dict[str, int], labels: list[str], check: Check) -> None:
    """Every config's rows, per split, equal the projection of that split's `trails` rows."""
    files: dict[tuple[str, str], list[str]] = defaultdict(list)
    for name in sorted(sizes):  # shard names sort in file order
        files[parse_shard(name)].append(name)
    breaches: list[tuple[str, str, str]] = []
    for split in sorted({s for c, s in files if c != "trails"}):
        breaches += _split_breaches(directory, files, split, labels, check)
    for *_, message in sorted(breaches):  # by config, then split
        check.fail(message)


def _split_breaches(
    directory: Path,
    files: dict[tuple[str, str], list[str]],
    split: str,
    labels: list[str],
    check: Check,
) -> list[tuple[str, str, str]]:
    """(config, split, message) for each config of one split that is not the projection of its
    `trails` rows, which are read once and freed on return."""
    configs = sorted(c for c, s in files if s == split and c != "trails")
    check.checked += len(configs)
    try:
        trails = _read_all(directory, files.get(("trails", split), []), trails_schema(labels))
    except _READ_ERRORS:
        trails = None
    breaches = []
    for config in configs:
        if config not in CONFIGS:
            breaches.append((config, split, f"config {config}: unknown to this trailforge"))
        elif trails is None or not _is_projection(
            directory, files[(config, split)], CONFIGS[config], trails, labels
        ):
            breaches.append(
                (
                    config,
                    split,
                    f"config {config}/{split}: rows differ from the projection of trails",
                )
            )
    return breaches


def _read_all(directory: Path, names: list[str], schema: pa.Schema) -> pa.Table:
    """The files' rows concatenated in order; an empty table of `schema` when there are none."""
    if not names:
        return schema.empty_table()
    return pa.concat_tables([_read(directory / name) for name in names])


def _is_projection(
    directory: Path, names: list[str], config: Config, trails: pa.Table, labels: list[str]
) -> bool:
    """Whether the files hold exactly the config's projection of `trails`: in the same order for
    row-wise configs; as the same rows for the others, whose order follows the build's keys (under
    `order: shuffle` that is not the projection's order)."""
    schema = config.schema(labels)
    try:
        stored = _read_all(directory, names, schema).cast(schema)
        expected = config.project(trails).cast(schema)
        if not config.rowwise:  # the same rows as a multiset (nested columns do not sort)
            return sorted(map(repr, stored.to_pylist())) == sorted(map(repr, expected.to_pylist()))
        return stored.equals(expected)
    except (*_READ_ERRORS, KeyError, ValueError):
        return False


def verify(
    directory: Path, on_step: Callable[[str], None] | None = None, tokenizer_dir: Path | None = None
) -> Report:
    """Run every check on a version folder. Raises DatasetError only for unusable input (no
    manifest, a tokenizer that cannot be loaded here). A file tokenizer is loaded from the
    version's copy, or from `tokenizer_dir` by its sha256."""
    directory = Path(directory)
    raw = read_manifest(directory)
    checks = {
        name: Check(name)
        for name in (
            "files match manifest",
            "trails schema",
            "row ids and text",
            "lineage",
            "families and held-out splits",
            "token bound",
            "world logic",
            "prompt boundaries",
            "manifest is consistent",
            "card matches files",
            "configs match trails",
        )
    }

    def step(name: str) -> Check:
        if on_step:
            on_step(name)
        return checks[name]

    manifest = _well_formed(raw, checks["manifest is consistent"])
    labels = [t["label"] for t in manifest["tokenizers"]]
    damaged = _check_copies(directory, manifest, checks["files match manifest"])
    tokenizers = []
    for entry in manifest["tokenizers"]:
        if tokenizer_dir is None and entry["label"] in damaged:
            checks["token bound"].fail(
                f"tokenizer {entry['label']!r}: its copy in the version is missing or changed, "
                "so the bound is not re-checked under it"
            )
            continue
        tokenizers.append((entry, _load(directory, entry, tokenizer_dir)))

    sizes = _check_files(directory, manifest, step("files match manifest"))
    _check_trails(directory, manifest, list(sizes), labels, tokenizers, step)
    _check_boundaries(directory, list(sizes), tokenizers, step("prompt boundaries"))
    _check_manifest(directory, manifest, sizes, step("manifest is consistent"))
    _check_card(directory, manifest, sizes, step("card matches files"))
    _check_configs(directory, sizes, labels, step("configs match trails"))
    return Report(directory=directory, checks=list(checks.values()))
