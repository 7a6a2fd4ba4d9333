"""`trailforge eval`: how a causal LM follows a built version's tracks, on its held-out families.

For a seeded sample of the split's families (valid base trails):
- conclusion recall: the trail's own completion ranked against completions with other
  conclusions (the family's flipped conclusion where it has one, and conclusions of other frames of
  the same stage), by stage and domain;
- minimal pairs: the split's `preference` pairs of the sampled families, chosen vs rejected;
- track stability: the base and every meaning-preserving variant rank the same candidate first;
- flip sensitivity: a flipped chain ranks its flipped conclusion above the parent's;
- damage: perplexity on `--reference` text (a text file, or another version's `text` config).
Writes eval.json (every figure with n and a 95% interval) and eval.png.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..dataset import read_manifest, read_table
from ..errors import DatasetError, EvalError
from ..lm import CausalScorer
from . import measures
from .measures import Figure, Question

#: Wrong candidates per question (the flipped conclusion first, where there is one).
CANDIDATES = 4


@dataclass
class EvalResult:
    report: dict[str, Any]
    files: list[Path]


def _plain(value: Any) -> Any:
    """The report with every Figure as a dict (for JSON)."""
    if isinstance(value, Figure):
        return value.as_dict()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _no_nan(value: Any) -> Any:
    """The report as strict JSON: a figure with no data (n = 0) is null, not NaN."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_no_nan(v) for v in value]
    return value


def _swap(completion: str, old: str, new: str) -> str:
    return completion.replace(old, new, 1)


def questions(
    rows: list[dict], sample: int, seed: int
) -> tuple[list[Question], list[list[Question]], list[Question], set[str]]:
    """(recall questions, stability families, flip questions, sampled family ids) of a split.

    A sampled family with no wrong conclusion to offer (no flip, and no other conclusion of its
    stage in the split) asks nothing: a single candidate would rank first whatever the model."""
    by_family: dict[str, list[dict]] = {}
    for row in rows:
        by_family.setdefault(row["family_id"], []).append(row)
    bases = {f: m[0] for f, m in by_family.items() if m[0]["depth"] == 0 and m[0]["valid"]}
    chosen = sorted(bases)
    if sample < len(chosen):
        chosen = sorted(random.Random(seed).sample(chosen, sample))
    by_stage: dict[int, list[str]] = {}
    for base in bases.values():
        by_stage.setdefault(base["stage"], []).append(base["conclusion"])
    recall, stable, flips = [], [], []
    for family_id in chosen:
        base, members = bases[family_id], by_family[family_id]
        flipped = [m for m in members if m["mutation"] and m["mutation"]["op"] == "flip"]
        rng = random.Random(f"{seed}:{family_id}")
        others = sorted({c for c in by_stage[base["stage"]] if c != base["conclusion"]})
        wrong = list(
            dict.fromkeys(
                [f["conclusion"] for f in flipped[:1]]
                + rng.sample(others, min(len(others), CANDIDATES))
            )
        )[:CANDIDATES]
        if not wrong:  # no flip, and no other conclusion of its stage in the split
            continue  # one candidate ranks first whatever the model: no question to ask
        group = (f"stage={base['stage']}", f"domain={base['domain']}")

        def ask(row: dict, conclusions: list[str]) -> Question:
            return Question(
                row["prompt"],
                row["completion"],
                tuple(_swap(row["completion"], row["conclusion"], c) for c in conclusions),
                group,
            )

        recall.append(ask(base, wrong))
        steady = [
            m
            for m in members
            if m["depth"] > 0 and not m["label_flipped"] and m["conclusion"] == base["conclusion"]
        ]
        stable.append([ask(m, wrong) for m in [base, *steady]])
        for flip in flipped:
            rest = [c for c in wrong if c != flip["conclusion"]]
            flips.append(ask(flip, [base["conclusion"], *rest][:CANDIDATES]))
    return recall, stable, flips, set(chosen)


def reference_texts(reference: Path) -> list[str]:
    """A text file's non-empty lines, or the `text` config of a built version."""
    if reference.is_dir():
        return [t for t in read_table(reference, "text").column("text").to_pylist() if t]
    try:
        lines = reference.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalError(
            f"cannot read the reference text: {exc}",
            file=reference,
            hint="pass a UTF-8 text file or a built version folder",
        ) from None
    texts = [line.strip() for line in lines if line.strip()]
    if not texts:
        raise EvalError(
            "the reference text is empty",
            file=reference,
            hint="pass a UTF-8 text file with one text a line, or a built version folder",
        )
    return texts


def evaluate(
    directory: Path,
    model: str,
    split: str = "test",
    sample: int = 200,
    reference: Path | None = None,
    out: Path | None = None,
    seed: int = 0,
    batch_size: int = 16,
    device: str = "auto",
    on_step: Callable[[str], None] | None = None,
) -> EvalResult:
    """Measure `model` on `split` of the version in `directory`; write eval.json and eval.png."""
    directory = Path(directory)
    read_manifest(directory)
    rows = [r for r in read_table(directory).to_pylist() if r["split"] == split]
    if not rows:
        splits = sorted({r["split"] for r in read_table(directory).select(["split"]).to_pylist()})
        raise EvalError(
            f"the version has no {split!r} rows",
            file=directory,
            hint=f"its splits: {', '.join(splits)}",
        )
    step = on_step or (lambda name: None)
    step("loading the model")
    scorer = CausalScorer(model, purpose="eval", device=device, batch_size=batch_size)
    recall_qs, families, flip_qs, sampled = questions(rows, sample, seed)
    if not recall_qs:
        raise EvalError(
            f"the {split!r} split has no family to ask: "
            + (
                "it holds no valid base trail (only broken chains)"
                if not sampled
                else "no sampled family has a wrong conclusion to rank against its own"
            ),
            file=directory,
            hint="pick another --split, or build more families (a larger --limit)",
        )
    step(f"conclusion recall ({len(recall_qs)} trails)")
    counts = [1 + len(q.wrong) for q in recall_qs]
    report: dict[str, Any] = {
        "model": model,
        "version": str(directory.name),
        "split": split,
        "families": len(sampled),
        "families_without_candidates": len(sampled) - len(recall_qs),
        "candidates_per_trail": {
            "most": 1 + CANDIDATES,
            "mean": round(sum(counts) / len(counts), 3),
            "fewest": min(counts),
        },
        "score": "mean log-probability per completion token",
        "recall": measures.recall(recall_qs, scorer.score),
    }
    step("minimal pairs")
    try:
        preference = read_table(directory, "preference").to_pylist()
    except DatasetError:  # a version without preference pairs
        preference = []
    ids = {r["id"] for r in rows if r["family_id"] in sampled}
    pairs = [(p["prompt"], p["chosen"], p["rejected"]) for p in preference if p["id"] in ids]
    report["minimal_pairs"] = measures.minimal_pairs(pairs, scorer.score)
    step(f"track stability ({len(families)} families)")
    report["stability"] = measures.stability(families, scorer.score)
    report["flip_sensitivity"] = measures.flip_sensitivity(flip_qs, scorer.score)
    if reference is not None:
        step("perplexity on the reference")
        report["damage"] = measures.perplexity(scorer.text_logps(reference_texts(reference)))
    plain = _plain(report)
    target = (
        Path(out)
        if out
        else directory.parent / f"{directory.name}.eval" / _slug(model) / "eval.json"
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(_no_nan(plain), indent=2) + "\n", encoding="utf-8")
    files = [target]
    png = _plot(plain, target.with_suffix(".png"))
    if png:
        files.append(png)
    return EvalResult(report=plain, files=files)


def _slug(model: str) -> str:
    return model.replace("hf:", "").strip("/").replace("/", "__") or "model"


def _plot(report: dict[str, Any], path: Path) -> Path | None:
    """Accuracy@1 by stage and the summary shares, with their 95% intervals."""
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bars = [(f"stage {s}", f) for s, f in report["recall"].get("by_stage", {}).items()]
    bars = [(name, figure["accuracy_at_1"]) for name, figure in bars]
    bars += [
        (name, report[key])
        for name, key in (
            ("minimal pairs", "minimal_pairs"),
            ("stability", "stability"),
            ("flip sensitivity", "flip_sensitivity"),
        )
    ]
    bars = [(n, f) for n, f in bars if f["n"] and not math.isnan(f["value"])]
    fig, ax = plt.subplots(figsize=(8, 4))
    if bars:
        values = [f["value"] for _, f in bars]
        errors = [
            [v - f["ci95"][0] for v, (_, f) in zip(values, bars)],
            [f["ci95"][1] - v for v, (_, f) in zip(values, bars)],
        ]
        ax.bar([n for n, _ in bars], values, yerr=errors, capsize=4, color="#4c72b0")
    name = Path(report["model"].replace("hf:", "")).name or report["model"]
    ax.set(
        ylim=(0, 1),
        ylabel="share (95% interval)",
        title=f"{name} on {report['split']}: accuracy@1 by stage, and summary shares",
    )
    ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
