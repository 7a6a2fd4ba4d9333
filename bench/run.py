"""Benchmarks: build throughput against a lower bound and against peers, on this machine.

    python bench/run.py                 # ~1M rows (default recipe scaled up); several minutes
    python bench/run.py --scale small   # ~50k rows, for a quick look

Writes bench/results.json (top-level `build_over_lower_bound`, lower is better, and
`speedup_vs_nlpaug`, higher is better) and prints a table. Every measurement runs in a fresh
subprocess so peak RSS is per run. Timings are wall-clock on whatever else the machine is doing:
compare runs from the same machine only.
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


def run_python(code: str) -> dict:
    """Run `code` in a fresh interpreter; it prints one JSON line; add its peak RSS (MB)."""
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
        check=True,
        cwd=ROOT,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def build(out: str, overrides: dict, workers: int, limit: int | None = None) -> dict:
    return run_python(f"""
import time
from trailforge.factory import build_version
from trailforge.recipe import load_recipe
recipe = load_recipe({str(ROOT / "trailforge.yaml")!r}, output={out!r},
                     version="9.{limit or 0}.{workers}", name="bench", limit={limit!r},
                     **{overrides!r})
start = time.perf_counter()
built = build_version(recipe, workers={workers})
result.update(seconds=time.perf_counter() - start, rows=built.rows, path=str(built.path),
              variants=built.rows - built.stats["by_op"].get("base", 0))
""")


def build_worlds(out: str, frames: int, workers: int) -> dict:
    """The worlds recipe at `frames` world frames: build rows/s, and the share of the build spent
    generating the frames (in the parent, before the shards)."""
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
    """World frames generated per second (one process), from the shipped word banks."""
    return run_python(f"""
import time
from pathlib import Path
from trailforge.worlds.generate import load_banks, world_domain
banks = load_banks(Path({str(ROOT / "content" / "worlds" / "banks.yaml")!r}))
start = time.perf_counter()
domain = world_domain(banks, seed=1, count={frames})
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


def nlpaug_rate(path: str, variants: int) -> dict | None:
    """nlpaug RandomWordAug producing variants of the same base texts (sampled if many)."""
    return run_python(f"""
import time
try:
    import nlpaug.augmenter.word as naw
except ImportError:
    naw = None
if naw is not None:
    from pathlib import Path
    from trailforge.dataset import read_table
    table = read_table(Path({path!r}))
    bases = [t for t, p in zip(table.column("text").to_pylist(),
                               table.column("parent_id").to_pylist()) if p is None]
    n = min({variants}, 20000)
    aug = naw.RandomWordAug(action="swap")
    start = time.perf_counter()
    for i in range(n):
        aug.augment(bases[i % len(bases)])
    seconds = time.perf_counter() - start
    result.update(variants=n, seconds=seconds, variants_per_s=n / seconds)
""")


def reasoning_gym_rate() -> dict | None:
    return run_python("""
import time
try:
    import reasoning_gym
except ImportError:
    reasoning_gym = None
if reasoning_gym is not None:
    start = time.perf_counter()
    items = list(reasoning_gym.create_dataset("propositional_logic", size=2000, seed=1))
    seconds = time.perf_counter() - start
    result.update(items=len(items), seconds=seconds, items_per_s=len(items) / seconds)
""")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="full")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, os.cpu_count() or 1])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results.json")
    args = parser.parse_args()
    overrides = SCALES[args.scale]
    with tempfile.TemporaryDirectory(prefix="trailforge-bench-") as tmp:
        builds = []
        for workers in dict.fromkeys(args.workers):
            print(f"build with {workers} worker(s)...", file=sys.stderr)
            run = build(tmp, overrides, workers)
            run.update(
                workers=workers,
                rows_per_s=run["rows"] / run["seconds"],
                variants_per_s=run["variants"] / run["seconds"],
            )
            builds.append(run)
        reference = builds[0]
        families = reference["rows"] - reference["variants"]  # one base row per family
        memory = []
        for fraction in (16, 4):  # peak RSS must not grow with the dataset
            print(f"memory at 1/{fraction} of the rows...", file=sys.stderr)
            run = build(tmp, overrides, 1, limit=max(1, families // fraction))
            memory.append({"rows": run["rows"], "peak_rss_mb": run["peak_rss_mb"]})
        one_worker = next((b for b in builds if b["workers"] == 1), None)
        if one_worker:
            memory.append({"rows": one_worker["rows"], "peak_rss_mb": one_worker["peak_rss_mb"]})
        print("lower bound...", file=sys.stderr)
        bound = lower_bound(reference["path"])
        print("peers...", file=sys.stderr)
        peer = nlpaug_rate(reference["path"], reference["variants"])
        peer = peer if "variants_per_s" in peer else None  # nlpaug is not installed
        gym = reasoning_gym_rate()
        gym = gym if "items_per_s" in gym else None  # reasoning-gym is not installed
        print("worlds...", file=sys.stderr)
        generation = world_generation_rate(min(WORLD_FRAMES[args.scale], 20_000))
        worlds = build_worlds(tmp, WORLD_FRAMES[args.scale], 1)
        worlds.update(
            rows_per_s=worlds["rows"] / worlds["seconds"],
            generation_share=(worlds["frames"] * 1.05 / generation["frames_per_s"])
            / worlds["seconds"],
        )
    one = (
        next(b for b in builds if b["workers"] == 1)
        if any(b["workers"] == 1 for b in builds)
        else reference
    )
    results = {
        "build_over_lower_bound": round(one["seconds"] / bound["seconds"], 3),
        "speedup_vs_nlpaug": round(one["variants_per_s"] / peer["variants_per_s"], 3)
        if peer
        else None,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "scale": args.scale,
        "recipe_overrides": overrides,
        "builds": [
            {k: (round(v, 3) if isinstance(v, float) else v) for k, v in b.items() if k != "path"}
            for b in builds
        ],
        "memory_by_rows": memory,
        "lower_bound": {k: round(v, 3) if isinstance(v, float) else v for k, v in bound.items()},
        "nlpaug_random_word_aug": peer,
        "reasoning_gym_propositional_logic": gym,
        "worlds": {
            "generation": generation,
            "build_1_worker": {
                k: round(v, 3) if isinstance(v, float) else v for k, v in worlds.items()
            },
            "curated_rows_per_s_1_worker": round(one["rows_per_s"], 1),
        },
        "notes": "build_over_lower_bound and speedup_vs_nlpaug compare the 1-worker build with "
        "single-process baselines (same cores).",
    }
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"{'measure':44} {'value':>14}")
    for b in builds:
        print(f"{'build, ' + str(b['workers']) + ' worker(s), rows/s':44} {b['rows_per_s']:>14.0f}")
        print(f"{'  peak RSS (MB)':44} {b['peak_rss_mb']:>14.0f}")
    print(f"{'rows':44} {one['rows']:>14}")
    for entry in memory:
        print(
            f"{'peak RSS (MB), 1 worker, ' + str(entry['rows']) + ' rows':44} "
            f"{entry['peak_rss_mb']:>14.0f}"
        )
    print(f"{'lower bound (encode + write), s':44} {bound['seconds']:>14.1f}")
    print(f"{'build / lower bound (1 worker)':44} {results['build_over_lower_bound']:>14.2f}")
    if peer:
        print(f"{'nlpaug RandomWordAug variants/s':44} {peer['variants_per_s']:>14.0f}")
        print(f"{'trailforge variants/s (1 worker, verified)':44} {one['variants_per_s']:>14.0f}")
        print(f"{'speedup vs nlpaug':44} {results['speedup_vs_nlpaug']:>14.2f}")
    if gym:
        print(f"{'reasoning-gym propositional_logic items/s':44} {gym['items_per_s']:>14.0f}")
    print(f"{'world frames generated/s':44} {generation['frames_per_s']:>14.0f}")
    print(f"{'worlds recipe rows/s (1 worker)':44} {worlds['rows_per_s']:>14.0f}")
    print(f"{'  share of it spent generating':44} {worlds['generation_share']:>14.1%}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
