"""Drift maps of a built version: measures per (parent, variant) pair, plots and an HTML report."""

from __future__ import annotations

import html
import random
import statistics
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pyarrow as pa
import pyarrow.parquet as pq

from ..dataset import read_table
from ..errors import DriftError, OutputError
from .model import DriftModel, Pair

PLOTS = ("shift_vs_distance.png", "shift_by_stage.png", "shift_histogram.png")


@dataclass
class DriftResult:
    out: Path
    rows: list[dict[str, Any]]
    measure: str
    files: list[Path]


def default_out(directory: Path, model: str) -> Path:
    """`<version>.drift/<model>/drift.parquet` beside the (immutable) version folder."""
    label = "".join(c if c.isalnum() else "_" for c in model.split("/")[-1]).strip("_") or "model"
    return directory.parent / f"{directory.name}.drift" / label / "drift.parquet"


def sample_pairs(
    directory: Path, sample: int | None, seed: int = 0
) -> tuple[list[dict[str, Any]], list[Pair]]:
    """The variant rows (a seeded sample of them) and their (parent, variant) text pairs."""
    rows = read_table(directory).to_pylist()
    by_id = {r["id"]: r for r in rows}
    variants = [r for r in rows if r["parent_id"] in by_id]
    if sample is not None and sample < len(variants):
        variants = sorted(random.Random(seed).sample(variants, sample), key=lambda r: r["id"])
    pairs = [
        Pair(
            by_id[r["parent_id"]]["prompt"],
            by_id[r["parent_id"]]["completion"],
            r["prompt"],
            r["completion"],
        )
        for r in variants
    ]
    return variants, pairs


def _plots(rows: list[dict[str, Any]], measure: str, folder: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_op: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_op[row["op"]].append(row)
    paths = [folder / name for name in PLOTS]
    rng = random.Random(0)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for op, items in sorted(by_op.items()):
        ax.scatter(
            [r["token_distance"] + rng.uniform(-0.15, 0.15) for r in items],
            [r[measure] for r in items],
            s=10,
            alpha=0.6,
            label=op,
        )
    ax.set(
        xlabel="token distance to parent (max over tokenizers)",
        ylabel=measure,
        title=f"{measure} vs token distance, per mutator",
    )
    ax.legend()
    fig.tight_layout()
    fig.savefig(paths[0], dpi=110)
    plt.close(fig)
    stages = sorted({r["stage"] for r in rows})
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.boxplot([[r[measure] for r in rows if r["stage"] == s] for s in stages])
    ax.set_xticks(range(1, len(stages) + 1), [str(s) for s in stages])
    ax.set(xlabel="curriculum stage", ylabel=measure, title=f"{measure} by stage")
    fig.tight_layout()
    fig.savefig(paths[1], dpi=110)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.hist([r[measure] for r in rows], bins=40)
    ax.set(xlabel=measure, ylabel="variants", title=f"distribution of {measure}")
    fig.tight_layout()
    fig.savefig(paths[2], dpi=110)
    plt.close(fig)
    return paths


def _summary(rows: list[dict[str, Any]], key: str, measures: tuple[str, ...]) -> list[list[str]]:
    groups: dict[Any, list[dict]] = defaultdict(list)
    for row in rows:
        groups[row[key]].append(row)
    table = []
    for group, items in sorted(groups.items()):
        cells = [str(group), str(len(items))]
        for m in measures:
            values = [r[m] for r in items]
            cells += [f"{statistics.fmean(values):.4f}", f"{statistics.median(values):.4f}"]
        table.append(cells)
    return table


def _html_table(header: list[str], body: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in body
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _report(
    rows: list[dict[str, Any]],
    measures: tuple[str, ...],
    measure: str,
    model: str,
    source: Path,
    plots: list[Path],
    path: Path,
) -> None:
    header = ["group", "n"] + [f"{m} {s}" for m in measures for s in ("mean", "median")]
    top = sorted(rows, key=lambda r: -r[measure])[:10]
    top_rows = [
        [r["id"], r["op"], str(r["stage"]), f"{r[measure]:.4f}", r["parent_text"], r["text"]]
        for r in top
    ]
    images = "".join(f'<figure><img src="{p.name}" alt="{p.stem}"></figure>' for p in plots)
    path.write_text(
        f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Drift map: {html.escape(source.name)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1100px}}table{{border-collapse:collapse;
margin:1em 0}}td,th{{border:1px solid #ccc;padding:4px 8px;font-size:13px;vertical-align:top}}
img{{max-width:100%}}figure{{margin:1em 0}}</style></head><body>
<h1>Drift map</h1>
<p>Dataset <code>{html.escape(str(source))}</code>, model <code>{html.escape(model)}</code>,
{len(rows)} (parent, variant) pairs. Main measure: <code>{measure}</code>.</p>
{images}
<h2>By mutator</h2>{_html_table(header, _summary(rows, "op", measures))}
<h2>By stage</h2>{_html_table(header, _summary(rows, "stage", measures))}
<h2>The 10 largest shifts</h2>
{_html_table(["id", "op", "stage", measure, "parent", "variant"], top_rows)}
</body></html>
""",
        encoding="utf-8",
    )


def drift_map(
    directory: Path,
    model: str = "minilm",
    sample: int | None = 2000,
    out: Path | None = None,
    batch_size: int = 32,
    device: str = "auto",
    on_start: Callable[[int], None] | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> DriftResult:
    """Measure every sampled (parent, variant) pair; write drift.parquet, three PNGs and report.html."""
    directory = Path(directory)
    out = Path(out) if out is not None else default_out(directory, model)
    if out.exists():
        raise OutputError(
            "drift output already exists",
            file=out,
            hint="pass another --out, or remove the old drift map",
        )
    variants, pairs = sample_pairs(directory, sample)
    if not pairs:
        raise DriftError("the dataset has no variants to measure", file=directory)
    drift_model = DriftModel(model, device=device, batch_size=batch_size)
    if on_start:
        on_start(len(pairs))
    measured = drift_model.measure(pairs, on_batch)
    by_id = {r["id"]: r for r in read_table(directory).select(["id", "text"]).to_pylist()}
    rows = []
    for row, values in zip(variants, measured):
        rows.append(
            {
                "id": row["id"],
                "parent_id": row["parent_id"],
                "op": row["mutation"]["op"],
                "stage": row["stage"],
                "domain": row["domain"],
                "label_flipped": row["label_flipped"],
                "token_distance": max(row["token_distance"].values()),
                "text": row["text"],
                "parent_text": by_id[row["parent_id"]]["text"],
                **values,
            }
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    columns = [c for c in rows[0] if c not in ("text", "parent_text")]
    pq.write_table(pa.Table.from_pylist([{c: r[c] for c in columns} for r in rows]), out)
    measure = drift_model.measures[0]
    plots = _plots(rows, measure, out.parent)
    report = out.parent / "report.html"
    _report(rows, drift_model.measures, measure, model, directory, plots, report)
    return DriftResult(out=out, rows=rows, measure=measure, files=[out, *plots, report])
