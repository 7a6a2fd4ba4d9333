"""Benchmarks: build throughput against a lower bound and against peers, on this machine.

    python bench/run.py                 # ~1M rows (default recipe scaled up); several minutes
    python bench/run.py --scale small   # ~50k rows, for a quick look

Writes bench/results.json (top-level `build_over_lower_bound`, lower is better;
`speedup_vs_nlpaug` and `speedup_vs_nlpaug_filtered`, higher is better) and prints a table; every
figure is described in docs/performance.md. Every measurement runs in a fresh subprocess so peak
RSS is per run. Timings are wall-clock on whatever else the machine is doing: compare runs from
the same machine only. Peers (nlpaug: `pip install -e '.[bench]'`; reasoning-gym) and the eval
(torch) are optional: a missing one leaves its section and the figures that need it null, with a
note saying why.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCALES = {
    # all 24 (role, view) renderings per frame and stage, 10 variants and 2 walks of 3 per family
    "full": {"trails_per_frame": 24, "variants_per_trail": 10, "walks": 2, "walk_depth": 3},
    "small": {"trails_per_frame": 2, "variants_per_trail": 6, "walks": 1, "walk_depth": 3},
}
#: World frames the worlds recipe (recipes/worlds.yaml) is built with at each scale.
WORLD_FRAMES = {"full": 100_000, "small": 5_000}
#: Augmentations drawn from nlpaug per configuration for the filtered peer figure.
NLPAUG_ATTEMPTS = {"full": 20_000, "small": 4_000}
#: Families `trailforge eval` samples (on the 1/4-row build) at each scale.
EVAL_SAMPLE = {"full": 200, "small": 40}


class Missing(Exception):
    """An optional peer (or torch for the eval) is not installed, or its run failed."""


def run_python(code: str, optional: bool = False) -> dict:
    """Run `code` in a fresh interpreter; it prints one JSON line; add its peak RSS (MB).

    With `optional`, a run that sets `result["missing"]` (an import failed) or that fails raises
    Missing with the reason, instead of stopping the benchmark."""
    wrapper = textwrap.dedent("""
        import json, resource, sys
        result = {}
        exec(sys.stdin.read(), {"result": result})
        usage = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                    resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
        result["peak_rss_mb"] = round(usage / 1024, 1)
        print(json.dumps(result))
    """)
    done = subprocess.run(
        [sys.executable, "-c", wrapper],
        input=code,
        capture_output=True,
        text=True,
        check=not optional,
        cwd=ROOT,
    )
    if done.returncode:
        lines = done.stderr.strip().splitlines() or [f"exit status {done.returncode}"]
        raise Missing(f"failed: {lines[-1]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if optional and "missing" in result:
        raise Missing(result["missing"])
    return result


def optional_section(name: str, measure, notes: dict[str, str]) -> dict | None:
    """`measure()`, or None with a note under `name` when its peer is missing or failed."""
    try:
        return measure()
    except Missing as why:
        notes[name] = str(why)
        print(f"  {name}: {why}", file=sys.stderr)
        return None


def rounded(section: dict | None) -> dict | None:
    if section is None:
        return None
    return {
        k: rounded(v) if isinstance(v, dict) else round(v, 3) if isinstance(v, float) else v
        for k, v in section.items()
    }


def build(
    out: str, overrides: dict, workers: int, limit: int | None = None, round_: int = 0
) -> dict:
    """One build in a fresh interpreter; `round_` gives repeated builds their own version."""
    return run_python(f"""
import time
from trailforge.factory import build_version
from trailforge.recipe import load_recipe
recipe = load_recipe({str(ROOT / "trailforge.yaml")!r}, output={out!r},
                     version="{9 + round_}.{limit or 0}.{workers}", name="bench", limit={limit!r},
                     **{overrides!r})
start = time.perf_counter()
built = build_version(recipe, workers={workers})
result.update(seconds=time.perf_counter() - start, rows=built.rows, path=str(built.path),
              variants=built.rows - built.stats["by_op"].get("base", 0))
""")


def build_worlds(out: str, frames: int, workers: int) -> dict:
    """The worlds recipe at `frames` world frames: build rows/s (its share spent generating the
    frames is worked out from `world_generation_rate`)."""
    return run_python(f"""
import time
from trailforge.factory import build_version
from trailforge.recipe import load_recipe
recipe = load_recipe({str(ROOT / "recipes" / "worlds.yaml")!r}, output={out!r}, name="bench-worlds",
                     worlds={{"frames": {frames}, "ood_frames": {frames // 20},
                              "stages_per_frame": 1, "banks": "../content/worlds/banks.yaml"}})
start = time.perf_counter()
built = build_version(recipe, workers={workers})
result.update(seconds=time.perf_counter() - start, rows=built.rows, frames={frames})
""")


def world_generation_rate(frames: int) -> dict:
    """World frames generated per second (one process), from the shipped word banks: a world
    domain makes its frames on use, so this makes each once."""
    return run_python(f"""
import time
from pathlib import Path
from trailforge.worlds.generate import load_banks, world_domain
banks = load_banks(Path({str(ROOT / "content" / "worlds" / "banks.yaml")!r}))
start = time.perf_counter()
for frame in world_domain(banks, seed=1, count={frames}).frames:
    pass
seconds = time.perf_counter() - start
result.update(frames={frames}, seconds=seconds, frames_per_s={frames} / seconds)
""")


def lower_bound(path: str) -> dict:
    """Encode every emitted text once with each target tokenizer, and write the same rows."""
    return run_python(f"""
import time, json
from pathlib import Path
import pyarrow.parquet as pq
from trailforge.dataset import read_table
from trailforge.tokenize import load_tokenizer
from trailforge.write import PARQUET_OPTIONS
table = read_table(Path({path!r}))
texts = table.column("text").to_pylist()
manifest = json.loads((Path({path!r}) / "manifest.json").read_text())
toks = [load_tokenizer(t["spec"]) for t in manifest["tokenizers"]]
start = time.perf_counter()
for tok in toks:
    tok.encode_batch(texts)
encode = time.perf_counter() - start
start = time.perf_counter()
pq.write_table(table, Path({path!r}).parent / "lower-bound.parquet", **PARQUET_OPTIONS)
write = time.perf_counter() - start
result.update(seconds=encode + write, encode_seconds=encode, write_seconds=write, rows=len(texts))
""")


NLPAUG_HINT = "nlpaug is not installed (pip install -e '.[bench]')"


def with_nlpaug(path: str, body: str) -> str:
    """Code for `run_python`: import nlpaug (or record that it is missing), read the base texts
    of the build at `path` into `bases`, then run `body` (indented one level, under the else)."""
    return (
        f"""
import json, random, time
try:
    import nlpaug.augmenter.word as naw
except ImportError:
    result["missing"] = {NLPAUG_HINT!r}
else:
    from pathlib import Path
    from trailforge.dataset import read_table
    table = read_table(Path({path!r}))
    bases = [t for t, p in zip(table.column("text").to_pylist(),
                               table.column("parent_id").to_pylist()) if p is None]
"""
        + body
    )


def nlpaug_rate(path: str, variants: int) -> dict:
    """nlpaug RandomWordAug producing variants of the same base texts (sampled if many), with no
    token check: the raw rate."""
    return run_python(
        with_nlpaug(
            path,
            f"""
    n = min({variants}, 20000)
    aug = naw.RandomWordAug(action="swap")
    start = time.perf_counter()
    for i in range(n):
        aug.augment(bases[i % len(bases)])
    seconds = time.perf_counter() - start
    result.update(variants=n, seconds=seconds, variants_per_s=n / seconds)
""",
        ),
        optional=True,
    )


def nlpaug_filtered(path: str, attempts: int, per_parent: int) -> dict:
    """nlpaug's cheap offline word augmenters, then the filter a user needs for the same promise:
    re-encode parent and augmentation with the build's target tokenizers and keep an
    augmentation only if 1 <= token distance <= the bound under every tokenizer (and it is not a
    repeat of one already kept for that parent). Two configurations: nlpaug's defaults (30% of
    the words, 1 to 10; its tokenizer rejoins punctuation and newlines with spaces) and
    `one_word`, tuned as a user aiming at a 2-token bound would: one word per augmentation,
    split and joined on single spaces. `best` is the one with more kept variants/s."""
    return run_python(
        with_nlpaug(
            path,
            f"""
    import numpy as np
    from trailforge.distance import token_distance
    from trailforge.tokenize import load_tokenizer
    manifest = json.loads((Path({path!r}) / "manifest.json").read_text())
    bound = manifest["recipe"]["max_token_distance"]
    toks = [load_tokenizer(t["spec"]) for t in manifest["tokenizers"]]
    attempts, per_parent = {attempts}, {per_parent}
    parents = [bases[i % len(bases)] for i in range(-(-attempts // per_parent))]

    def augmenters(**size):
        # offline only: no WordNet (Synonym/Antonym), no embeddings, no models
        return {{
            "random_word_swap": naw.RandomWordAug(action="swap", **size),
            "random_word_delete": naw.RandomWordAug(action="delete", **size),
            "random_word_substitute": naw.RandomWordAug(action="substitute", **size),
            "split": naw.SplitAug(**size),
            "spelling": naw.SpellingAug(**size),  # nlpaug's shipped misspelling list
        }}

    # nlpaug as shipped, and tuned for a small bound: one word per augmentation, and words split
    # and joined on single spaces so the rest of the text (newlines, punctuation) is untouched
    configs = {{
        "defaults": augmenters(),
        "one_word": augmenters(aug_min=1, aug_max=1, tokenizer=lambda s: s.split(" "),
                               reverse_tokenizer=" ".join),
    }}
    report = {{}}
    for config, augs in configs.items():
        random.seed(0)
        np.random.seed(0)
        names = list(augs)
        by_aug = {{n: {{"attempts": 0, "within_bound": 0}} for n in names}}
        texts = []
        start = time.perf_counter()
        for i in range(attempts):
            name = names[i % len(names)]
            out = augs[name].augment(parents[i // per_parent])
            texts.append((i // per_parent, name, out[0] if isinstance(out, list) else out))
        augment = time.perf_counter() - start
        start = time.perf_counter()
        parent_ids = [tok.encode_batch(parents) for tok in toks]  # per tokenizer, per parent
        kept, within, seen = 0, 0, set()
        for parent, name, text in texts:
            by_aug[name]["attempts"] += 1
            ok = all(
                1 <= token_distance(ids[parent], tok.encode_batch([text])[0], cutoff=bound) <= bound
                for tok, ids in zip(toks, parent_ids)
            )
            if ok:
                within += 1
                by_aug[name]["within_bound"] += 1
                if (parent, text) not in seen:
                    seen.add((parent, text))
                    kept += 1
        filter_seconds = time.perf_counter() - start
        seconds = augment + filter_seconds
        report[config] = dict(
            attempts=attempts, parents=len(parents), augment_seconds=augment,
            filter_seconds=filter_seconds, seconds=seconds,
            raw_variants_per_s=attempts / augment, within_bound=within,
            within_bound_share=within / attempts, kept=kept, kept_variants_per_s=kept / seconds,
            by_augmenter={{n: dict(v, within_bound_share=v["within_bound"] / v["attempts"])
                          for n, v in by_aug.items()}},
        )
    best = max(report, key=lambda c: report[c]["kept_variants_per_s"])
    result.update(bound=bound, tokenizers=[t["label"] for t in manifest["tokenizers"]],
                  per_parent=per_parent, configs=report, best=best,
                  kept_variants_per_s=report[best]["kept_variants_per_s"])
""",
        ),
        optional=True,
    )


def eval_rate(path: str, sample: int) -> dict:
    """`trailforge eval` (trailforge.eval.report.evaluate, as the command runs it) on the `test`
    split with a tiny randomly initialised GPT-2 built here (no download): (prompt, completion)
    pairs scored per second, end to end (model load and question building included)."""
    return run_python(
        f"""
import sys, tempfile, time
from pathlib import Path
try:
    import torch
except ImportError:
    result["missing"] = "torch is not installed (pip install torch==2.13.0, then -e '.[drift]')"
else:
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast
    from trailforge import lm
    from trailforge.dataset import read_table
    from trailforge.eval.report import evaluate
    sys.path.insert(0, {str(ROOT / "bench")!r})
    from usefulness import train_tokenizer
    folder = Path(tempfile.mkdtemp(prefix="bench-eval-")) / "tiny-gpt2"
    texts = read_table(Path({path!r}), "text").column("text").to_pylist()[:2000]
    train_tokenizer(texts, 1000, folder)
    fast = PreTrainedTokenizerFast.from_pretrained(folder)
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(fast), n_positions=1024, n_embd=32, n_layer=2, n_head=2)
    GPT2LMHeadModel(config).save_pretrained(folder)
    scored = {{"pairs": 0, "seconds": 0.0}}
    logps = lm.CausalScorer._logps

    def counted(self, prompts, completions):
        start = time.perf_counter()
        out = logps(self, prompts, completions)
        scored["seconds"] += time.perf_counter() - start
        scored["pairs"] += len(prompts)
        return out

    lm.CausalScorer._logps = counted
    start = time.perf_counter()
    report = evaluate(Path({path!r}), str(folder), split="test", sample={sample},
                      out=folder.parent / "eval.json", device="cpu")
    seconds = time.perf_counter() - start
    result.update(model="tiny GPT-2 (2 layers, n_embd 32, random weights, 1000-token BPE)",
                  split="test", families=report.report["families"], pairs=scored["pairs"],
                  seconds=seconds, score_seconds=scored["seconds"],
                  pairs_per_s=scored["pairs"] / seconds,
                  score_pairs_per_s=scored["pairs"] / scored["seconds"],
                  threads=torch.get_num_threads())
""",
        optional=True,
    )


def reasoning_gym_rate() -> dict:
    return run_python(
        """
import time
try:
    import reasoning_gym
except ImportError:
    result["missing"] = "reasoning-gym is not installed (pip install reasoning-gym)"
else:
    start = time.perf_counter()
    items = list(reasoning_gym.create_dataset("propositional_logic", size=2000, seed=1))
    seconds = time.perf_counter() - start
    result.update(items=len(items), seconds=seconds, items_per_s=len(items) / seconds)
""",
        optional=True,
    )


def with_rates(run: dict, workers: int) -> dict:
    """A build's result with its worker count and its rows and variants per second."""
    return {
        **run,
        "workers": workers,
        "rows_per_s": run["rows"] / run["seconds"],
        "variants_per_s": run["variants"] / run["seconds"],
    }


def round_figures(r: dict) -> dict:
    """One round's seconds and rates, and the ratios of its own runs (None where a peer is
    missing)."""
    one, bound, peer, filtered = r["build"], r["bound"], r["peer"], r["filtered"]
    kept = filtered["kept_variants_per_s"] if filtered else 0
    return {
        "build_seconds": round(one["seconds"], 3),
        "build_peak_rss_mb": one["peak_rss_mb"],
        "lower_bound_seconds": round(bound["seconds"], 3),
        "nlpaug_variants_per_s": round(peer["variants_per_s"], 1) if peer else None,
        "nlpaug_kept_variants_per_s": round(kept, 1) if filtered else None,
        "build_over_lower_bound": round(one["seconds"] / bound["seconds"], 3),
        "speedup_vs_nlpaug": round(one["variants_per_s"] / peer["variants_per_s"], 3)
        if peer
        else None,
        "speedup_vs_nlpaug_filtered": round(one["variants_per_s"] / kept, 3) if kept else None,
    }


def median(values: list) -> float | None:
    """The median of the values that are not None (None if none are)."""
    known = sorted(v for v in values if v is not None)
    if not known:
        return None
    middle = len(known) // 2
    return known[middle] if len(known) % 2 else round((known[middle - 1] + known[middle]) / 2, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="full")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, os.cpu_count() or 1])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results.json")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="rounds of (1-worker build, lower bound, peers) back to back; figures are medians",
    )
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    overrides = SCALES[args.scale]
    missing: dict[str, str] = {}  # optional section -> why it is null
    with tempfile.TemporaryDirectory(prefix="trailforge-bench-") as tmp:
        builds = []
        for workers in dict.fromkeys(args.workers):
            print(f"build with {workers} worker(s)...", file=sys.stderr)
            builds.append(with_rates(build(tmp, overrides, workers), workers))
        reference = builds[0]
        families = reference["rows"] - reference["variants"]  # one base row per family
        memory, slices = [], {}
        for fraction in (16, 4):  # peak RSS must not grow with the dataset
            print(f"memory at 1/{fraction} of the rows...", file=sys.stderr)
            run = build(tmp, overrides, 1, limit=max(1, families // fraction))
            memory.append({"rows": run["rows"], "peak_rss_mb": run["peak_rss_mb"]})
            slices[fraction] = run
        one_worker = next((b for b in builds if b["workers"] == 1), None)
        if one_worker:
            memory.append({"rows": one_worker["rows"], "peak_rss_mb": one_worker["peak_rss_mb"]})
        # The ratios compare runs made minutes apart, and this machine's speed drifts by up to
        # 2x over minutes: each round runs the 1-worker build, the lower bound and the peers
        # back to back, each round's ratios use its own runs, and the figures are the medians.
        rounds = []
        for number in range(args.rounds):
            print(f"round {number + 1} of {args.rounds}: lower bound, peers...", file=sys.stderr)
            one = (
                with_rates(build(tmp, overrides, 1, round_=number), 1)
                if number or one_worker is None
                else one_worker
            )
            rounds.append(
                {
                    "build": one,
                    "bound": lower_bound(reference["path"]),
                    "peer": optional_section(
                        "nlpaug_random_word_aug",
                        lambda: nlpaug_rate(reference["path"], reference["variants"]),
                        missing,
                    ),
                    "filtered": optional_section(
                        "nlpaug_filtered",
                        lambda: nlpaug_filtered(
                            reference["path"],
                            NLPAUG_ATTEMPTS[args.scale],
                            overrides["variants_per_trail"],
                        ),
                        missing,
                    ),
                }
            )
        middle = sorted(rounds, key=lambda r: r["build"]["seconds"] / r["bound"]["seconds"])
        median_round = middle[(len(middle) - 1) // 2]  # the round whose ratio is the median
        bound, peer, filtered = (median_round[k] for k in ("bound", "peer", "filtered"))
        gym = optional_section("reasoning_gym_propositional_logic", reasoning_gym_rate, missing)
        print("eval...", file=sys.stderr)
        evaluation = optional_section(
            "eval", lambda: eval_rate(slices[4]["path"], EVAL_SAMPLE[args.scale]), missing
        )
        if evaluation:
            evaluation["build_rows"] = slices[4]["rows"]
        print("worlds...", file=sys.stderr)
        generation = world_generation_rate(min(WORLD_FRAMES[args.scale], 20_000))
        worlds = build_worlds(tmp, WORLD_FRAMES[args.scale], 1)
        worlds.update(
            rows_per_s=worlds["rows"] / worlds["seconds"],
            # each frame (and its ood 5%) is made twice: by the plan and in its shard
            generation_share=(2 * worlds["frames"] * 1.05 / generation["frames_per_s"])
            / worlds["seconds"],
        )
    one = median_round["build"]
    per_round = [round_figures(r) for r in rounds]
    results = {
        **{
            figure: median([r[figure] for r in per_round])
            for figure in (
                "build_over_lower_bound",
                "speedup_vs_nlpaug",
                "speedup_vs_nlpaug_filtered",
            )
        },
        "rounds": per_round,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "scale": args.scale,
        "recipe_overrides": overrides,
        "builds": [rounded({k: v for k, v in b.items() if k != "path"}) for b in builds],
        "memory_by_rows": memory,
        "lower_bound": rounded(bound),
        "nlpaug_random_word_aug": rounded(peer),
        "nlpaug_filtered": rounded(filtered),
        "reasoning_gym_propositional_logic": rounded(gym),
        "eval": rounded(evaluation),
        "worlds": {
            "generation": rounded(generation),
            "build_1_worker": rounded(worlds),
            "curated_rows_per_s_1_worker": round(one["rows_per_s"], 1),
        },
        "notes": "build_over_lower_bound and the speedups compare the 1-worker build with "
        "single-process baselines (same cores), run back to back in each of `rounds`; the "
        "top-level figures are the medians over the rounds, and the sections below are those of "
        "the round whose build_over_lower_bound is the median. "
        "speedup_vs_nlpaug counts every nlpaug output; "
        "speedup_vs_nlpaug_filtered counts only the distinct outputs within the token bound "
        "under every target tokenizer, over the time to augment and check them.",
        "missing": missing,  # optional sections left null, and why
    }
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print_table(results, builds, one, memory, bound, generation, worlds)
    print(f"wrote {args.out}")


def print_table(results, builds, one, memory, bound, generation, worlds) -> None:
    row = "{:52} {:>14}".format
    print(row("measure", "value"))
    for b in builds:
        print(row(f"build, {b['workers']} worker(s), rows/s", f"{b['rows_per_s']:.0f}"))
        print(row("  peak RSS (MB)", f"{b['peak_rss_mb']:.0f}"))
    print(row("rows", one["rows"]))
    for entry in memory:
        print(row(f"peak RSS (MB), 1 worker, {entry['rows']} rows", f"{entry['peak_rss_mb']:.0f}"))
    for number, r in enumerate(results["rounds"], 1):
        print(
            row(f"round {number}: build s, lower bound s, ratio", ""),
            f"{r['build_seconds']:.1f}, {r['lower_bound_seconds']:.1f}, "
            f"{r['build_over_lower_bound']:.2f}",
        )
    print(row("lower bound (encode + write), s", f"{bound['seconds']:.1f}"))
    print(row("build / lower bound (1 worker, median)", f"{results['build_over_lower_bound']:.2f}"))
    print(row("trailforge variants/s (1 worker, verified)", f"{one['variants_per_s']:.0f}"))
    peer, filtered = results["nlpaug_random_word_aug"], results["nlpaug_filtered"]
    if peer:
        print(row("nlpaug RandomWordAug variants/s (unchecked)", f"{peer['variants_per_s']:.0f}"))
        print(row("speedup vs nlpaug", f"{results['speedup_vs_nlpaug']:.2f}"))
    if filtered:
        for name, config in filtered["configs"].items():
            print(row(f"nlpaug {name}: raw variants/s", f"{config['raw_variants_per_s']:.0f}"))
            print(row("  share within the bound", f"{config['within_bound_share']:.1%}"))
            print(
                row("  kept variants/s (augment + filter)", f"{config['kept_variants_per_s']:.0f}")
            )
        speedup = results["speedup_vs_nlpaug_filtered"]
        print(row("speedup vs nlpaug, filtered", f"{speedup:.2f}" if speedup else "n/a"))
    gym = results["reasoning_gym_propositional_logic"]
    if gym:
        print(row("reasoning-gym propositional_logic items/s", f"{gym['items_per_s']:.0f}"))
    evaluation = results["eval"]
    if evaluation:
        print(row("eval pairs/s (tiny GPT-2, CPU)", f"{evaluation['pairs_per_s']:.0f}"))
    print(row("world frames generated/s", f"{generation['frames_per_s']:.0f}"))
    print(row("worlds recipe rows/s (1 worker)", f"{worlds['rows_per_s']:.0f}"))
    print(row("  share of it spent generating", f"{worlds['generation_share']:.1%}"))
    for name, why in results["missing"].items():
        print(row(f"{name}", "null"), f"({why})")


if __name__ == "__main__":
    main()
