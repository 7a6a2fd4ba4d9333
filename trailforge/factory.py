"""The factory: load a recipe's inputs, build every shard, write one immutable version.

This is the I/O edge around the pure pipeline in `build` and the writers in `write`.
"""

from __future__ import annotations

import json
import os
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from . import __version__
from .build import Inputs, load_inputs, plan, run_shards, shards
from .curriculum import MutationStats
from .errors import OutputError
from .recipe import Recipe
from .seeding import stable_hash
from .configs import CONFIGS
from .write import (atomic_version_dir, card_text, count_by, order_rows, package_versions,
                    sha256_file, write_config, write_json)


@dataclass
class BuildResult:
    path: Path
    rows: int
    by_split: dict[str, int]
    by_stage: dict[str, int]
    by_domain: dict[str, int]
    seconds: float
    stats: dict[str, Any] = field(default_factory=dict)
    already_built: bool = False


def _relative(path: Path, base: Path) -> str:
    return Path(os.path.relpath(path.resolve(), base.resolve())).as_posix()


def _tokenizer_spec(spec: str) -> str:
    """The spec as recorded: never an absolute path of this machine."""
    label, sep, rest = spec.partition("=")
    bare = rest if sep and label.isidentifier() else spec
    if os.path.isabs(os.path.expanduser(bare)):
        return spec.replace(bare, Path(bare).name)
    return spec


def input_hashes(inputs: Inputs) -> dict[str, str]:
    base = inputs.recipe.base_dir
    return {_relative(p, base): sha256_file(p) for p in inputs.files}


def inputs_fingerprint(inputs: Inputs, hashes: dict[str, str]) -> str:
    """What the bytes of a version depend on: recipe (less its output folder), input files,
    tokenizers and the trailforge version."""
    return stable_hash(__version__, inputs.recipe.resolved(), sorted(hashes.items()),
                       [t.fingerprint for t in inputs.tokenizers])


def existing_fingerprint(path: Path) -> str | None:
    try:
        return json.loads((path / "manifest.json").read_text())["inputs_fingerprint"]
    except (OSError, ValueError, KeyError):
        return None


def card_body(recipe: Recipe, inputs: Inputs, sizes: dict[str, dict[str, int]],
              sample: list[dict[str, Any]]) -> str:
    by_split = sizes["trails"]
    stages = ", ".join(f"{n}: {inputs.grammar.stages[n].name}" for n in recipe.stages)
    tokenizers = ", ".join(f"`{t.label}`" for t in inputs.tokenizers)
    lines = [
        f"# {recipe.name} {recipe.version}", "",
        recipe.description or "Reasoning trails built with trailforge.", "",
        "## How it was built", "",
        f"- **Stages** (curriculum, simple to rich): {stages}.",
        f"- **Domains**: {', '.join(sorted(inputs.content.domains))}.",
        f"- **Roles**: {', '.join(recipe.roles)}; **views**: {', '.join(recipe.views)}.",
        f"- **Mutators**: {', '.join(recipe.mutators)}; every variant differs from its parent by "
        f"1 to {recipe.max_token_distance} tokens under each of {tokenizers}, measured by "
        "re-encoding the final text.",
        f"- **Families**: {recipe.variants_per_trail} single-edit variants and {recipe.walks} drift "
        f"walk(s) of up to {recipe.walk_depth} edits per base trail; a family never spans splits.",
        f"- **Order**: {'curriculum (stage; within a stage, trails of the most predictable tokens first; each base trail followed by its variants and walks by depth)' if recipe.order == 'curriculum' else 'seeded shuffle'}.",
        f"- **Splits**: " + ", ".join(f"{s} ({n} rows)" for s, n in by_split.items()) + ".",
        "", "## Load it", "", "```python", "import datasets",
        'trails = datasets.load_dataset("path/to/this/folder")           # default config: trails',
        'pairs = datasets.load_dataset("path/to/this/folder", "preference")', "```", "",
        "| config | columns | use |", "| --- | --- | --- |",
        "| `trails` | every column: lineage, steps, mutation, token distances | analysis |",
        "| `text` | `id`, `text` | language modelling |",
        "| `messages` | `id`, `messages` (user: the premise; assistant: the trail in its voice) "
        "| conversational SFT |",
        "| `prompt_completion` | `id`, `prompt`, `completion` (the chain -> its conclusion) "
        "| prompt-completion SFT |",
        "| `preference` | `id`, `prompt`, `chosen`, `rejected` (flip minimal pairs) | DPO |", "",
        "Rows per config and split: " + "; ".join(
            f"{c}: " + ", ".join(f"{s} {n}" for s, n in splits.items())
            for c, splits in sizes.items()) + ".", "",
        "## One family", "",
    ]
    for row in sample:
        op = row["mutation"]["op"] if row["mutation"] else "base"
        lines.append(f"- depth {row['depth']} ({op}): {row['text']!r}")
    command = (f"trailforge build --recipe trailforge.yaml --version {recipe.version} "
               f"--seed {recipe.seed}" + (f" --limit {recipe.limit}" if recipe.limit else "")
               + "".join(f" --tokenizer {_tokenizer_spec(t)}" for t in recipe.tokenizers))
    lines += ["", "## Rebuild", "",
              "From a trailforge checkout whose input files match the hashes in `manifest.json`:", "",
              "```bash", command, "```", "",
              "The same inputs give byte-identical shards, whatever the number of workers.", ""]
    return "\n".join(lines)


def _build_all_rows(inputs: Inputs, workers: int | None,
                    on_start: Callable[[int], None] | None,
                    on_progress: Callable[[int], None] | None
                    ) -> tuple[list[dict[str, Any]], int, MutationStats]:
    """Every row of the build in shard order, the number of families, and the mutation stats."""
    items = plan(inputs)
    if on_start:
        on_start(len(items))
    results: dict[int, list[dict[str, Any]]] = {}
    stats = MutationStats()
    for index, rows, shard_stats in run_shards(inputs, shards(items), workers or os.cpu_count() or 1,
                                               on_progress):
        results[index] = rows
        stats.merge(shard_stats)
    return [row for index in sorted(results) for row in results[index]], len(items), stats


def _write_configs(temp: Path, recipe: Recipe, labels: list[str],
                   by_split_rows: dict[str, list[dict[str, Any]]]
                   ) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, int]]]:
    """Write every config of every split; returns the files (hash, rows, bytes) and the sizes."""
    files: dict[str, dict[str, Any]] = {}
    sizes: dict[str, dict[str, int]] = defaultdict(dict)
    for split, rows in by_split_rows.items():
        ordered = order_rows(rows, recipe.order, recipe.seed, split, recipe.stages)
        for config, (project, schema) in CONFIGS.items():
            projected = project(ordered)
            if not projected:
                continue
            sizes[config][split] = len(projected)
            for path, n_rows in write_config(temp, config, split, projected, schema(labels)):
                files[_relative(path, temp)] = {"sha256": sha256_file(path), "rows": n_rows,
                                                 "bytes": path.stat().st_size}
    return files, dict(sizes)


def _stats(rows: list[dict[str, Any]], families: int, by_split: dict[str, int], labels: list[str],
           mutations: MutationStats, markers: tuple[str, ...]) -> dict[str, Any]:
    return {
        "rows": len(rows), "families": families,
        "distinct_base_trails": len({r["text"] for r in rows if r["depth"] == 0}),
        "by_split": by_split, "by_stage": count_by(rows, "stage"),
        "by_domain": count_by(rows, "domain"), "by_role": count_by(rows, "role"),
        "by_view": count_by(rows, "view"), "by_op": _count_ops(rows),
        "label_flipped": sum(1 for r in rows if r["label_flipped"]),
        "token_distance_histogram": _histograms(rows, labels),
        "mutations": mutations.as_dict(),
        "markers": list(markers),
    }


def build_version(recipe: Recipe, workers: int | None = None,
                  on_start: Callable[[int], None] | None = None,
                  on_progress: Callable[[int], None] | None = None) -> BuildResult:
    """Build `recipe` into `<output>/<name>/<version>/`; nothing is written if anything fails."""
    started = time.perf_counter()
    inputs = load_inputs(recipe)
    hashes = input_hashes(inputs)
    fingerprint = inputs_fingerprint(inputs, hashes)
    final = recipe.output_dir
    if final.exists():
        if existing_fingerprint(final) == fingerprint:
            return BuildResult(path=final, rows=0, by_split={}, by_stage={}, by_domain={},
                               seconds=0.0, already_built=True)
        raise OutputError(f"version {recipe.version} already exists and was built from other inputs",
                          file=final, hint="bump `version` in the recipe or pass --version; "
                          "published versions are immutable")
    labels = [t.label for t in inputs.tokenizers]
    with atomic_version_dir(final) as temp:
        rows, families, mutations = _build_all_rows(inputs, workers, on_start, on_progress)
        by_split_rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            by_split_rows[row["split"]].append(row)
        by_split_rows = {s: by_split_rows[s] for s in [*recipe.splits, "ood"] if by_split_rows.get(s)}
        by_split = {s: len(r) for s, r in by_split_rows.items()}
        files, sizes = _write_configs(temp, recipe, labels, by_split_rows)
        first = next((r for r in rows if r["depth"] == 0), None)
        sample = [r for r in rows if first and r["family_id"] == first["family_id"]][:8]
        (temp / "README.md").write_text(
            card_text({"pretty_name": recipe.name}, sizes, card_body(recipe, inputs, sizes, sample)),
            encoding="utf-8")
        stats_doc = _stats(rows, families, by_split, labels, mutations, inputs.markers)
        write_json(temp / "stats.json", stats_doc)
        seconds = time.perf_counter() - started
        write_json(temp / "manifest.json", {
            "name": recipe.name, "version": recipe.version, "trailforge_version": __version__,
            "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "build_seconds": round(seconds, 2), "seed": recipe.seed,
            "inputs_fingerprint": fingerprint,
            "recipe": recipe.resolved(),
            "inputs": hashes,
            "tokenizers": [{"spec": _tokenizer_spec(s), "label": t.label,
                            "fingerprint": t.fingerprint, "vocab_size": t.vocab_size}
                           for s, t in zip(recipe.tokenizers, inputs.tokenizers)],
            "packages": package_versions(),
            "rows": {"total": len(rows), "by_split": by_split},
            "configs": sizes,
            "files": files,
        })
    return BuildResult(path=final, rows=len(rows), by_split=by_split,
                       by_stage=count_by(rows, "stage"), by_domain=count_by(rows, "domain"),
                       seconds=seconds, stats=stats_doc)


def _count_ops(rows: list[dict[str, Any]]) -> dict[str, int]:
    ops: dict[str, int] = defaultdict(int)
    for row in rows:
        ops[row["mutation"]["op"] if row["mutation"] else "base"] += 1
    return dict(sorted(ops.items()))


def _histograms(rows: list[dict[str, Any]], labels: list[str]) -> dict[str, dict[str, int]]:
    histograms: dict[str, dict[str, int]] = {label: defaultdict(int) for label in labels}
    for row in rows:
        if row["token_distance"]:
            for label in labels:
                histograms[label][str(row["token_distance"][label])] += 1
    return {label: dict(sorted(h.items())) for label, h in histograms.items()}
