"""A fixed-seed sample of a built version for a content review, with the mechanical counts.

    python scripts/review_sample.py out/ski-tracks/0.1.0 [--seed 7] [--bases 40] [--families 30]

Prints Markdown: the counts a script can take (connectives repeated in a trail, anchors in
completions, flips by stage and kind, broken chains, distractors, domains per split), then the
sampled base trails and whole families for a reader to judge by the review checklist of
docs/content.md (truth, links, conclusions, relations, premise_2, anchors, flips, lexicon).
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from trailforge.content import MODAL_SWAPS  # noqa: E402
from trailforge.dataset import read_table  # noqa: E402
from trailforge.mutate.base import connective_key  # noqa: E402


def counts(rows: list[dict]) -> list[str]:
    n = len(rows)
    repeated = sum(
        1
        for r in rows
        if len({connective_key(s["connective"]) for s in r["steps"]}) < len(r["steps"])
    )
    tags = ("[!]", "(!)")
    in_completion = sum(1 for r in rows if any(t in r["completion"] for t in tags))
    anchored = sum(1 for r in rows if any(t in r["text"] for t in tags))
    flips = [r for r in rows if r["mutation"] and r["mutation"]["op"] == "flip"]
    modal = sum(
        1
        for r in flips
        if frozenset(r["mutation"]["detail"].split(" in ")[0].replace("'", "").split(" -> "))
        in MODAL_SWAPS
    )
    by_stage = Counter(r["stage"] for r in flips)
    splits: dict[str, set] = {}
    for r in rows:
        splits.setdefault(r["split"], set()).add(r["domain"])
    stage5 = [r for r in rows if r["stage"] == 5 and r["depth"] == 0]
    distractor = sum(1 for r in stage5 if any(s["distractor"] for s in r["steps"]))
    return [
        f"- rows: {n}; connective repeated in a trail: {repeated} ({repeated / n:.1%})",
        f"- rows with an anchor tag: {anchored} ({anchored / n:.1%}); in the completion: "
        f"{in_completion}",
        f"- flip rows: {len(flips)} ({len(flips) / n:.1%}); by stage: "
        f"{dict(sorted(by_stage.items()))}; modal swaps: {modal} ({modal / max(len(flips), 1):.0%})",
        f"- broken chains (valid false): {sum(1 for r in rows if not r['valid'])}",
        f"- stage-5 base trails with a distractor: {distractor} of {len(stage5)}",
        "- domains per split: " + ", ".join(f"{s} {len(d)}" for s, d in sorted(splits.items())),
    ]


def header(row: dict) -> str:
    """A sampled row's origin; a stage-5 row says whether its second premise is a distractor."""
    text = f"{row['domain']}/{row['frame_id']}, stage {row['stage']}, {row['role']}/{row['view']}"
    if row["stage"] == 5:
        text += ", premise_2 is a " + (
            "distractor"
            if any(s["distractor"] for s in row["steps"])
            else "premise that takes part"
        )
    return text + ("" if row["valid"] else ", BROKEN")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--bases", type=int, default=40)
    parser.add_argument("--families", type=int, default=30)
    args = parser.parse_args()
    rows = read_table(args.directory).to_pylist()
    rng = random.Random(args.seed)
    bases = [r for r in rows if r["depth"] == 0]
    lines = [
        f"# Review sample of {args.directory} (seed {args.seed})",
        "",
        "## Counts",
        "",
        *counts(rows),
        "",
        f"## {args.bases} base trails",
        "",
    ]
    sampled = rng.sample(bases, args.bases)
    for i, row in enumerate(sampled, 1):
        lines += [f"### B{i}. {header(row)}", "", "```", row["text"], "```", ""]
    by_family: dict[str, list[dict]] = {}
    for row in rows:
        by_family.setdefault(row["family_id"], []).append(row)
    taken = {row["family_id"] for row in sampled}
    lines += [f"## {args.families} families (none of them among the base trails above)", ""]
    for i, family_id in enumerate(rng.sample(sorted(set(by_family) - taken), args.families), 1):
        family = by_family[family_id]
        base = family[0]
        lines += [f"### F{i}. {header(base)}", "", "```", base["text"], "```", ""]
        for row in family[1:]:
            m = row["mutation"]
            lines.append(f"- depth {row['depth']} {m['op']}: {m['detail']}")
        lines.append("")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
