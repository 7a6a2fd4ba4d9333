"""The usefulness experiment: does a model trained on the tracks follow them?

    python bench/usefulness.py            # 4 arms x 3 seeds on CPU (about 30 minutes on 2 cores)
    python bench/usefulness.py --smoke    # the whole path at tiny sizes (under 2 minutes)
    python bench/usefulness.py --preset gpu --device cuda   # larger data and model

One dataset is built from the default recipe (a stable sample of its families, more frames held
out for `test`) with a byte-level BPE tokenizer trained here on its train split as the *only*
target, so the token bound is exact for the model under test. A small GPT-2 is trained from
scratch on each arm, every arm with the same number of training tokens and steps:

- A: base trails only: each variant's slot holds its base trail again (same order as B);
- B: base trails + trailforge micro-variants and drift walks, in the dataset's curriculum order;
- C: base trails + as many *unbounded* augmentations: each variant's slot holds its base trail
  after random word swaps, deletions or substitutions (nlpaug RandomWordAug's defaults: 30% of
  the words, at least 1 and at most 10), with no token bound;
- D: B's rows in a seeded shuffled order.

Each model is evaluated with `trailforge eval` (trailforge.eval.report.evaluate) on `test`
(frames never trained on) and `ood` (held-out role, view and world vocabulary), and its
perplexity is measured on the validation split's clean base trails. Writes bench/usefulness.json
(every figure per seed with its 95% interval, and the mean, spread and a t-interval over seeds)
and bench/usefulness.png. docs/usefulness.md states the hypothesis and reads the result.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
ARMS = {
    "A": "base trails only (each repeated in its variants' slots)",
    "B": "base + trailforge micro-variants and walks, curriculum order",
    "C": "base + unbounded random word augmentations (no token bound)",
    "D": "B in shuffled order",
}
SPLITS = ("train", "validation", "test")
EVAL_SPLITS = ("test", "ood")
#: t quantile (two-sided 95%) by degrees of freedom, for intervals over seeds
T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


@dataclass(frozen=True)
class Preset:
    """Sizes of one run of the experiment."""

    families: int | None  # families built from the default recipe (None: all)
    vocab: int  # BPE vocabulary trained on the train split
    layers: int
    width: int
    heads: int
    block: int  # training sequence length (packed texts)
    batch: int  # sequences per step
    lr: float
    seeds: tuple[int, ...]
    sample: int  # families evaluated per split


PRESETS = {
    "smoke": Preset(
        families=160,
        vocab=2000,
        layers=1,
        width=32,
        heads=2,
        block=384,
        batch=8,
        lr=3e-3,
        seeds=(0, 1),
        sample=30,
    ),
    "cpu": Preset(
        families=2400,
        vocab=4096,
        layers=2,
        width=128,
        heads=4,
        block=256,
        batch=8,
        lr=2e-3,
        seeds=(0, 1, 2),
        sample=100,
    ),
    "gpu": Preset(
        families=None,
        vocab=8192,
        layers=6,
        width=384,
        heads=6,
        block=384,
        batch=32,
        lr=1e-3,
        seeds=(0, 1, 2),
        sample=400,
    ),
}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- data ---------------------------------------------------------------------------------------


def build(work: Path, preset: Preset, tokenizer: str | None, version: str) -> Path:
    """The default recipe at the preset's size, with 15% of frames held out for `test`."""
    from trailforge.factory import build_version
    from trailforge.recipe import load_recipe

    recipe = load_recipe(
        ROOT / "trailforge.yaml",
        output=str(work / "builds"),
        name="usefulness",
        version=version,
        limit=preset.families,
        splits={"train": 0.80, "validation": 0.05, "test": 0.15},
        tokenizers=[tokenizer] if tokenizer else None,
    )
    return build_version(recipe, workers=os.cpu_count()).path


def train_tokenizer(texts: list[str], vocab: int, folder: Path) -> Path:
    """A GPT-2 style byte-level BPE trained on `texts`, saved as a transformers tokenizer folder;
    returns the path of its tokenizer.json."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(
        texts,
        trainers.BpeTrainer(
            vocab_size=vocab,
            special_tokens=["<|endoftext|>"],
            show_progress=False,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        ),
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|endoftext|>"
    )
    folder.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(folder)
    return folder / "tokenizer.json"


def random_word_augment(
    text: str,
    pool: list[str],
    rng: random.Random,
    aug_p: float = 0.3,
    aug_min: int = 1,
    aug_max: int = 10,
) -> str:
    """An unbounded augmentation as nlpaug's RandomWordAug makes it: one action (swap with a
    neighbour, delete, or substitute a random corpus word) on aug_p of the words (at least
    aug_min, at most aug_max). Words are space-separated, so line breaks stay where they were."""
    words = text.split(" ")
    count = min(aug_max, max(aug_min, int(aug_p * len(words))), len(words))
    action = rng.choice(("swap", "delete", "substitute"))
    for index in sorted(rng.sample(range(len(words)), count), reverse=True):
        if action == "swap" and index + 1 < len(words):
            words[index], words[index + 1] = words[index + 1], words[index]
        elif action == "delete" and len(words) > 1:
            del words[index]
        elif action == "substitute":
            words[index] = rng.choice(pool)
    return " ".join(words)


def arm_texts(rows: list[dict], arm: str, seed: int) -> list[str]:
    """The training texts of `arm`, from the build's valid train rows in curriculum order."""
    base = {r["family_id"]: r["text"] for r in rows if r["depth"] == 0}
    rng = random.Random(f"{arm}:{seed}")
    if arm == "A":
        return [base[r["family_id"]] for r in rows]
    if arm == "B":
        return [r["text"] for r in rows]
    if arm == "C":
        pool = sorted({w for text in base.values() for w in text.split()})
        return [
            r["text"] if r["depth"] == 0 else random_word_augment(base[r["family_id"]], pool, rng)
            for r in rows
        ]
    if arm == "D":
        texts = [r["text"] for r in rows]
        rng.shuffle(texts)
        return texts
    raise ValueError(f"unknown arm {arm!r}")


def token_stream(texts: list[str], tokenizer: Any) -> list[int]:
    """The texts' ids, each followed by the end-of-text token."""
    eos = tokenizer.eos_token_id
    return [i for ids in tokenizer(texts)["input_ids"] for i in (*ids, eos)]


def fit_to(stream: list[int], tokens: int) -> list[int]:
    """`stream` cycled or cut to exactly `tokens` ids (every arm gets the same budget)."""
    repeats = -(-tokens // len(stream))
    return (stream * repeats)[:tokens]


# --- training -----------------------------------------------------------------------------------


def train(
    stream: list[int], tokenizer: Any, preset: Preset, seed: int, device: str, folder: Path
) -> dict[str, Any]:
    """A GPT-2 trained from scratch on `stream` in order (one pass, `preset.batch` blocks a step,
    linear warm-up then cosine decay); saved with its tokenizer to `folder`."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=preset.block,
        n_embd=preset.width,
        n_layer=preset.layers,
        n_head=preset.heads,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    model = GPT2LMHeadModel(config).to(device)
    blocks = torch.tensor(stream, dtype=torch.long).view(-1, preset.block)
    steps = len(blocks) // preset.batch
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=preset.lr, betas=(0.9, 0.95), weight_decay=0.1
    )
    warmup = max(1, steps // 20)

    def rate(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, steps - warmup)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, rate)
    model.train()
    losses: list[float] = []
    started = time.perf_counter()
    for step in range(steps):
        batch = blocks[step * preset.batch : (step + 1) * preset.batch].to(device)
        loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
    seconds = time.perf_counter() - started
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    tail = losses[-max(1, steps // 10) :]
    return {
        "steps": steps,
        "tokens": steps * preset.batch * preset.block,
        "seconds": round(seconds, 1),
        "first_loss": round(losses[0], 4),
        "final_loss": round(sum(tail) / len(tail), 4),
        "parameters": sum(p.numel() for p in model.parameters()),
    }


# --- evaluation and summary ---------------------------------------------------------------------

FIGURES: dict[str, Callable[[dict], dict]] = {
    "recall_accuracy_at_1": lambda r: r["recall"]["accuracy_at_1"],
    "recall_mean_rank": lambda r: r["recall"]["mean_rank"],
    "minimal_pairs": lambda r: r["minimal_pairs"],
    "stability": lambda r: r["stability"],
    "flip_sensitivity": lambda r: r["flip_sensitivity"],
}


SHORT = {
    "recall_accuracy_at_1": "acc@1",
    "recall_mean_rank": "rank",
    "minimal_pairs": "pairs",
    "stability": "stable",
    "flip_sensitivity": "flips",
}


def evaluate(
    build_dir: Path, model_dir: Path, preset: Preset, device: str, work: Path, reference: list[str]
) -> dict[str, Any]:
    """`trailforge eval` on each evaluated split, and perplexity on the clean reference trails."""
    from trailforge.eval import measures
    from trailforge.eval.report import evaluate as trailforge_eval
    from trailforge.lm import CausalScorer

    out: dict[str, Any] = {}
    for split in EVAL_SPLITS:
        report = trailforge_eval(
            build_dir,
            str(model_dir),
            split=split,
            sample=preset.sample,
            out=work / f"{model_dir.name}.{split}.json",
            seed=0,
            batch_size=32,
            device=device,
        ).report
        out[split] = {name: pick(report) for name, pick in FIGURES.items()}
        out[split]["families"] = report["families"]
    scorer = CausalScorer(str(model_dir), device=device, batch_size=32)
    damage = measures.perplexity(scorer.text_logps(reference))
    out["validation_perplexity"] = round(damage["perplexity"], 4)
    return out


def over_seeds(values: list[float]) -> dict[str, Any]:
    """Mean, sample sd, min, max and a t-interval over seeds."""
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return {
            "mean": math.nan,
            "sd": math.nan,
            "min": math.nan,
            "max": math.nan,
            "ci95": [math.nan, math.nan],
            "n_seeds": 0,
        }
    m = statistics.fmean(values)
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    half = T95.get(len(values) - 1, 1.96) * sd / math.sqrt(len(values)) if len(values) > 1 else 0.0
    return {
        "mean": round(m, 6),
        "sd": round(sd, 6),
        "min": round(min(values), 6),
        "max": round(max(values), 6),
        "ci95": [round(m - half, 6), round(m + half, 6)],
        "n_seeds": len(values),
    }


def summarise(runs: dict[str, dict[int, dict]]) -> dict[str, Any]:
    """Per arm and figure: the seed spread; and B's paired difference from each other arm."""
    summary: dict[str, Any] = {}
    for arm, by_seed in runs.items():
        summary[arm] = {
            split: {
                name: over_seeds([r["eval"][split][name]["value"] for r in by_seed.values()])
                for name in FIGURES
            }
            for split in EVAL_SPLITS
        }
        summary[arm]["validation_perplexity"] = over_seeds(
            [r["eval"]["validation_perplexity"] for r in by_seed.values()]
        )
    differences: dict[str, Any] = {}
    for other in (a for a in runs if a != "B"):
        seeds = sorted(set(runs["B"]) & set(runs[other]))
        b, o = runs["B"], runs[other]
        differences[f"B-{other}"] = {
            split: {
                name: over_seeds(
                    [
                        b[s]["eval"][split][name]["value"] - o[s]["eval"][split][name]["value"]
                        for s in seeds
                    ]
                )
                for name in FIGURES
            }
            for split in EVAL_SPLITS
        }
        differences[f"B-{other}"]["validation_perplexity"] = over_seeds(
            [
                b[s]["eval"]["validation_perplexity"] - o[s]["eval"]["validation_perplexity"]
                for s in seeds
            ]
        )
    return {"arms": summary, "paired_differences": differences}


def plot(summary: dict[str, Any], runs: dict[str, dict[int, dict]], path: Path) -> Path | None:
    """Mean per arm (bars), each seed (dots), for the shares on test and ood."""
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = ["recall_accuracy_at_1", "minimal_pairs", "stability", "flip_sensitivity"]
    fig, axes = plt.subplots(1, len(EVAL_SPLITS), figsize=(12, 4), sharey=True)
    width = 0.8 / len(runs)
    for ax, split in zip(axes, EVAL_SPLITS):
        for a, arm in enumerate(runs):
            xs = [i + (a - (len(runs) - 1) / 2) * width for i in range(len(names))]
            means = [summary["arms"][arm][split][n]["mean"] for n in names]
            ax.bar(xs, means, width, label=f"{arm}: {ARMS[arm]}")
            for x, name in zip(xs, names):
                seeds = [r["eval"][split][name]["value"] for r in runs[arm].values()]
                ax.plot([x] * len(seeds), seeds, "k.", markersize=4)
        ax.set_xticks(range(len(names)), [n.replace("_", " ") for n in names], rotation=20)
        ax.set_title(f"{split} split (bars: mean over seeds; dots: seeds)")
    axes[0].set_ylabel("share")
    axes[0].set_ylim(0, 1)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=2, fontsize=8)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def print_table(summary: dict[str, Any]) -> None:
    """Mean ± sd over seeds per arm and evaluated split."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="usefulness: mean ± sd over seeds")
    table.add_column("arm")
    table.add_column("split")
    for name in FIGURES:
        table.add_column(SHORT[name], justify="right")
    table.add_column("val ppl", justify="right")
    for arm, figures in summary["arms"].items():
        for split in EVAL_SPLITS:
            cells = [
                f"{f['mean']:.2f}±{f['sd']:.2f}" for f in (figures[split][name] for name in FIGURES)
            ]
            table.add_row(
                arm,
                split,
                *cells,
                f"{figures['validation_perplexity']['mean']:.1f}" if split == "test" else "",
            )
    Console(stderr=True).print(table)


# --- the experiment -----------------------------------------------------------------------------


def run(preset_name: str, work: Path, out: Path | None, device: str, arms: tuple[str, ...]) -> dict:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch
    import transformers
    from transformers import PreTrainedTokenizerFast

    from trailforge.dataset import read_table

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    preset = PRESETS[preset_name]
    device = ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device
    started = time.perf_counter()
    log(f"preset {preset_name}: building the corpus for the tokenizer")
    first = build(work, preset, None, "0.0.1")
    train_rows = [r for r in read_table(first).to_pylist() if r["split"] == "train" and r["valid"]]
    tokenizer_json = train_tokenizer(
        [r["text"] for r in train_rows], preset.vocab, work / "tokenizer"
    )
    log(f"tokenizer trained ({preset.vocab} ids); building the dataset with it as the target")
    built = build(work, preset, f"exp={tokenizer_json}", "0.0.2")
    tokenizer = PreTrainedTokenizerFast.from_pretrained(work / "tokenizer")
    rows = read_table(built).to_pylist()
    train_rows = [r for r in rows if r["split"] == "train" and r["valid"]]
    reference = [
        r["text"] for r in rows if r["split"] == "validation" and r["depth"] == 0 and r["valid"]
    ]
    longest = max(len(ids) for ids in tokenizer([r["text"] for r in rows])["input_ids"])
    if longest > preset.block:
        log(f"warning: the longest text has {longest} tokens, over the block of {preset.block}")
    budget_stream = token_stream(arm_texts(train_rows, "B", 0), tokenizer)
    per_step = preset.batch * preset.block
    budget = len(budget_stream) // per_step * per_step
    data = {
        "rows": {s: sum(r["split"] == s for r in rows) for s in (*SPLITS, "ood")},
        "train_rows": len(train_rows),
        "train_bases": sum(r["depth"] == 0 for r in train_rows),
        "reference_texts": len(reference),
        "longest_text_tokens": longest,
        "budget_tokens": budget,
        "tokenizer_vocab": len(tokenizer),
    }
    log(f"dataset: {data}")
    runs: dict[str, dict[int, dict]] = {arm: {} for arm in arms}
    for seed in preset.seeds:
        for arm in arms:
            stream = token_stream(arm_texts(train_rows, arm, seed), tokenizer)
            folder = work / "models" / f"{arm}-seed{seed}"
            trained = train(fit_to(stream, budget), tokenizer, preset, seed, device, folder)
            trained["arm_tokens_before_fitting"] = len(stream)
            log(
                f"arm {arm} seed {seed}: {trained['steps']} steps in {trained['seconds']} s, "
                f"loss {trained['first_loss']} -> {trained['final_loss']}"
            )
            figures = evaluate(built, folder, preset, device, work / "eval", reference)
            log(
                f"arm {arm} seed {seed}: test acc@1 "
                f"{figures['test']['recall_accuracy_at_1']['value']:.3f}, ood acc@1 "
                f"{figures['ood']['recall_accuracy_at_1']['value']:.3f}, "
                f"val ppl {figures['validation_perplexity']:.2f}"
            )
            runs[arm][seed] = {"train": trained, "eval": figures}
    summary = summarise(runs)
    result = {
        "preset": preset_name,
        "settings": asdict(preset),
        "arms": ARMS,
        "device": device,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
        },
        "data": data,
        "seconds": round(time.perf_counter() - started, 1),
        "summary": summary,
        "runs": {arm: {str(s): r for s, r in by_seed.items()} for arm, by_seed in runs.items()},
    }
    print_table(summary)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2, allow_nan=True) + "\n", encoding="utf-8")
        plot(summary, runs, out.with_suffix(".png"))
        log(f"wrote {out} and its plot")
    log(f"done in {result['seconds']} s")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    parser.add_argument("--smoke", action="store_true", help="the smoke preset (tiny sizes)")
    parser.add_argument("--work", type=Path, help="working folder (default: a temporary one)")
    parser.add_argument(
        "--out",
        type=Path,
        help="result JSON, with its plot beside it "
        "(default: bench/usefulness.json; with --smoke, none)",
    )
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto")
    parser.add_argument("--arms", default="ABCD", help="arms to run (default ABCD)")
    parser.add_argument(
        "--summarise",
        type=Path,
        metavar="RESULT",
        help="re-summarise a finished run's JSON (its per-seed figures) in place "
        "and redraw its plot, without training",
    )
    args = parser.parse_args(argv)
    if args.summarise:
        result = json.loads(args.summarise.read_text(encoding="utf-8"))
        runs = {
            arm: {int(s): r for s, r in by_seed.items()} for arm, by_seed in result["runs"].items()
        }
        result["summary"] = summarise(runs)
        args.summarise.write_text(
            json.dumps(result, indent=2, allow_nan=True) + "\n", encoding="utf-8"
        )
        plot(result["summary"], runs, args.summarise.with_suffix(".png"))
        print_table(result["summary"])
        return 0
    preset = "smoke" if args.smoke else args.preset
    arms = tuple(dict.fromkeys(args.arms.upper()))
    if not arms or any(a not in ARMS for a in arms) or "B" not in arms:
        parser.error(f"--arms takes letters of {''.join(ARMS)} and must include B")
    import tempfile

    with tempfile.TemporaryDirectory(prefix="usefulness-") as scratch:
        work = (args.work or Path(scratch)).resolve()
        out = args.out or (None if preset == "smoke" else ROOT / "bench" / "usefulness.json")
        result = run(preset, work, out.resolve() if out else None, args.device, arms)
    return (
        0
        if all(
            math.isfinite(f["mean"])
            for arm in result["summary"]["arms"].values()
            for split in EVAL_SPLITS
            for f in arm[split].values()
        )
        else 1
    )


if __name__ == "__main__":
    sys.exit(main())
