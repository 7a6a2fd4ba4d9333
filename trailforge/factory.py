"""The factory: load a recipe's inputs, build every shard, write one immutable version.

This is the I/O edge around the pure pipeline in `build` and the writers in `write`.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import pyarrow as pa

from . import __version__
from .card import card_body, card_text
from .configs import CONFIGS
from .engines import get_engine
from .errors import OutputError, RecipeError
from .family import MutationStats
from .inputs import Inputs, load_inputs
from .layout import config_files, parse_shard
from .plan import plan, shards
from .recipe import Recipe, recorded_spec, split_label
from .seeding import version_fingerprint
from .shard import KEY, ShardJob, ShardResult, finished_shard, merged_stats, part_path
from .tokenize import resolve_kind
from .write import (
    BackgroundRuns,
    copy_tokenizer,
    merge_parts,
    package_versions,
    sha256_file,
    split_bytes,
    version_workspace,
    write_json,
)


@dataclass
class BuiltVersion:
    """What a build made: the version folder, its row counts and statistics."""

    path: Path
    rows: int
    by_split: dict[str, int]
    by_stage: dict[str, int]
    by_domain: dict[str, int]
    seconds: float
    stats: dict[str, Any] = field(default_factory=dict)
    already_built: bool = False
    resumed_shards: int = 0


def _relative(path: Path, base: Path) -> str:
    return Path(os.path.relpath(path.resolve(), base.resolve())).as_posix()


def input_hashes(inputs: Inputs) -> dict[str, str]:
    base = inputs.recipe.base_dir
    return {_relative(p, base): sha256_file(p) for p in inputs.files}


def inputs_fingerprint(inputs: Inputs, hashes: dict[str, str]) -> str:
    """What the bytes of a version depend on (see seeding.version_fingerprint)."""
    models = [inputs.difficulty_model.fingerprint] if inputs.difficulty_model else []
    return version_fingerprint(
        __version__,
        inputs.recipe.resolved(),
        hashes,
        [t.fingerprint for t in inputs.tokenizers],
        models,
    )


def existing_fingerprint(path: Path) -> str | None:
    try:
        return json.loads((path / "manifest.json").read_text())["inputs_fingerprint"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _shard_results(
    inputs: Inputs,
    jobs: list[ShardJob],
    parts_dir: Path,
    resume: bool,
    workers: int,
    engine: str,
    address: str | None,
    on_progress: Callable[[int, int], None] | None,
    runs: BackgroundRuns,
) -> tuple[list[ShardResult], int]:
    """Every shard's summary, reusing intact finished shards when resuming; and how many were.
    Each shard's parts go to `runs` as it finishes."""
    done: dict[int, ShardResult] = {}

    def finished(result: ShardResult) -> None:
        done[result.index] = result
        for config, splits in result.counts.items():
            for split in splits:
                runs.add(config, split, part_path(parts_dir, config, split, result.index))
        if on_progress:
            on_progress(result.families, result.rows)

    if resume:
        for job in jobs:
            found = finished_shard(parts_dir, job)
            if found is not None:
                finished(found)
    todo = [job for job in jobs if job.index not in done]
    for result in get_engine(engine)(inputs, todo, workers, address=address):
        finished(result)
    return [done[job.index] for job in jobs], len(jobs) - len(todo)


def _merge(
    temp: Path,
    parts_dir: Path,
    recipe: Recipe,
    labels: list[str],
    results: list[ShardResult],
    runs: BackgroundRuns,
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, int]]]:
    """The final shards of every config and split, merged from the parts (and the runs merged
    from them during the build) in key order: one merge of `trails` feeds every row-wise config;
    the other configs merge their own parts."""
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for result in results:
        for config, splits in result.counts.items():
            for split, n in splits.items():
                totals[config][split] += n
    rowwise = {
        name: (spec.project, spec.schema(labels)) for name, spec in CONFIGS.items() if spec.rowwise
    }
    merges = [("trails", rowwise)] + [
        (name, {name: (_unchanged, spec.schema(labels))})
        for name, spec in CONFIGS.items()
        if not spec.rowwise
    ]
    files: dict[str, dict[str, Any]] = {}
    sizes: dict[str, dict[str, int]] = defaultdict(dict)
    split_order = [*recipe.splits, "ood"]
    for source, sinks in merges:
        for split in [s for s in split_order if totals.get(source, {}).get(s)]:
            for config, path, n in merge_parts(
                runs.parts(source, split),
                temp,
                split,
                totals[source][split],
                sinks,
                KEY,
                parts_dir / "runs" / source / split,
            ):
                files[_relative(path, temp)] = {
                    "sha256": sha256_file(path),
                    "rows": n,
                    "bytes": path.stat().st_size,
                }
                sizes[config][split] = sizes[config].get(split, 0) + n
    ordered = {name: files[name] for config in CONFIGS for name in config_files(files, config)}
    return ordered, {config: sizes[config] for config in CONFIGS if config in sizes}


def _unchanged(table: pa.Table) -> pa.Table:
    return table


def _stats(
    results: list[ShardResult],
    by_split: dict[str, int],
    mutations: MutationStats,
    anchor_tags: list[str],
    labels: list[str],
) -> dict[str, Any]:
    """stats.json: every mapping in a fixed order (labels in the recipe's order, other keys
    sorted), so a resumed build, whose shard summaries were read back from their markers, writes
    the same bytes as an uninterrupted one."""

    def total(key: str) -> dict[str, int]:
        counter: Counter = Counter()
        for result in results:
            counter.update(result.summary[key])
        return dict(sorted(counter.items()))

    histograms: dict[str, Counter] = defaultdict(Counter)
    for result in results:
        for label, histogram in result.summary["token_distance_histogram"].items():
            histograms[label].update(histogram)
    base_hashes = {h for r in results for h in r.summary["base_text_hashes"]}
    return {
        "rows": sum(r.rows for r in results),
        "families": sum(r.families for r in results),
        "distinct_base_trails": len(base_hashes),
        "by_split": by_split,
        "by_stage": total("by_stage"),
        "by_domain": total("by_domain"),
        "by_role": total("by_role"),
        "by_view": total("by_view"),
        "by_op": total("by_op"),
        "label_flipped": sum(r.summary["label_flipped"] for r in results),
        "token_distance_histogram": {
            label: dict(sorted(histograms[label].items())) for label in labels
        },
        "mutations": mutations.as_dict(),
        "anchor_tags": anchor_tags,
    }


def build_version(
    recipe: Recipe,
    workers: int | None = None,
    engine: str = "local",
    address: str | None = None,
    resume: bool = False,
    shard_size: int | None = None,
    on_start: Callable[[int, int], None] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    on_phase: Callable[[str], None] | None = None,
) -> BuiltVersion:
    """Build `recipe` into `<output>/<name>/<version>/`; no version folder appears unless the whole
    build succeeded. `resume` keeps the intact shards of an interrupted build of the same inputs.
    `shard_size` (families per shard; default: automatic) changes the work units, never the bytes.
    `on_start(families, shards_total)` and `on_progress(families, rows)` report the shards'
    progress, `on_phase(name)` each phase as it begins: loading inputs, building shards, merging,
    writing metadata (card, stats, manifest)."""
    phase = on_phase or (lambda name: None)
    started = time.perf_counter()
    phase("loading inputs")
    inputs = load_inputs(recipe)
    hashes = input_hashes(inputs)
    fingerprint = inputs_fingerprint(inputs, hashes)
    final = recipe.output_dir
    if final.exists() or final.is_symlink():  # a dangling link is in the way too
        if existing_fingerprint(final) == fingerprint:
            return BuiltVersion(
                path=final,
                rows=0,
                by_split={},
                by_stage={},
                by_domain={},
                seconds=0.0,
                already_built=True,
            )
        if not (final / "manifest.json").is_file():
            kind = "link" if final.is_symlink() else "folder" if final.is_dir() else "file"
            raise OutputError(
                f"a {kind} that is not a trailforge version is where version {recipe.version} goes",
                file=final,
                hint="move or remove it, or pass another --version or --out",
            )
        raise OutputError(
            f"version {recipe.version} already exists and was built from other inputs",
            file=final,
            hint="bump `version` in the recipe or pass --version; published versions are immutable",
        )
    labels = [t.label for t in inputs.tokenizers]
    items = plan(inputs)
    if not items:
        raise RecipeError(
            "the recipe selects no base trails: no stage of the curriculum has a frame, among "
            "its domains, that its chain can tell",
            **recipe.where("curriculum"),
            hint="check `curriculum` (each stage's `domains`) and `domains`",
        )
    with version_workspace(final, fingerprint, resume) as temp:
        parts_dir = temp / "_parts"
        jobs = [
            ShardJob(i, tuple(batch), str(parts_dir))
            for i, batch in enumerate(shards(items, shard_size))
        ]
        phase("building shards")
        if on_start:
            on_start(len(items), len(jobs))
        with BackgroundRuns(KEY, parts_dir / "runs") as runs:
            results, resumed = _shard_results(
                inputs,
                jobs,
                parts_dir,
                resume,
                workers or os.cpu_count() or 1,
                engine,
                address,
                on_progress,
                runs,
            )
            phase("merging")
            files, sizes = _merge(temp, parts_dir, recipe, labels, results, runs)
        phase("writing metadata")
        by_split = sizes.get("trails", {})
        sample = next((r.sample for r in results if r.sample), [])
        meta = {**recipe.card.model_dump(), "pretty_name": recipe.card.pretty_name or recipe.name}
        downloads: dict[str, int] = defaultdict(int)
        for name, entry in files.items():
            downloads[parse_shard(name).config] += entry["bytes"]
        schemas = {config: CONFIGS[config].schema(labels) for config in sizes}
        (temp / "README.md").write_text(
            card_text(
                meta,
                sizes,
                split_bytes(temp, files),
                downloads,
                schemas,
                card_body(recipe, inputs, sizes, sample),
            ),
            encoding="utf-8",
        )
        copies = [
            copy_tokenizer(*resolve_kind(split_label(spec)[1], recipe.base_dir), t.label, temp)
            for spec, t in zip(recipe.tokenizers, inputs.tokenizers)
        ]
        stats_doc = _stats(results, by_split, merged_stats(results), recipe.anchors.tags, labels)
        write_json(temp / "stats.json", stats_doc)
        seconds = time.perf_counter() - started
        write_json(
            temp / "manifest.json",
            {
                "name": recipe.name,
                "version": recipe.version,
                "trailforge_version": __version__,
                "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "build_seconds": round(seconds, 2),
                "seed": recipe.seed,
                "inputs_fingerprint": fingerprint,
                "recipe": recipe.resolved(),
                "inputs": hashes,
                "tokenizers": [
                    {
                        "spec": recorded_spec(s),
                        "label": t.label,
                        "fingerprint": t.fingerprint,
                        "vocab_size": t.vocab_size,
                        **({"files": copied} if copied else {}),
                    }
                    for s, t, copied in zip(recipe.tokenizers, inputs.tokenizers, copies)
                ],
                **(
                    {
                        "difficulty_model": {
                            "spec": recorded_spec(recipe.difficulty.model or ""),
                            "fingerprint": inputs.difficulty_model.fingerprint,
                        }
                    }
                    if inputs.difficulty_model
                    else {}
                ),
                "packages": package_versions(),
                "rows": {"total": stats_doc["rows"], "by_split": by_split},
                "configs": sizes,
                "card": {"path": "README.md", "sha256": sha256_file(temp / "README.md")},
                "files": files,
            },
        )
        shutil.rmtree(parts_dir)  # last: until the version is whole, --resume keeps the shards
    return BuiltVersion(
        path=final,
        rows=stats_doc["rows"],
        by_split=by_split,
        by_stage=stats_doc["by_stage"],
        by_domain=stats_doc["by_domain"],
        seconds=seconds,
        stats=stats_doc,
        resumed_shards=resumed,
    )
