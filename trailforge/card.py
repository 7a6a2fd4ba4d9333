"""The dataset card (README.md of a version): YAML front matter written by the Hub's own
libraries, and the human body. Pure text: the caller writes it."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from .configs import CONFIGS
from .inputs import Inputs
from .layout import shard_glob
from .recipe import Recipe, recorded_spec

#: The Hub's size categories (the `size_categories` values it accepts), by upper bound.
SIZE_CATEGORIES = (
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"),
    (100_000_000, "10M<n<100M"),
    (1_000_000_000, "100M<n<1B"),
    (10_000_000_000, "1B<n<10B"),
    (100_000_000_000, "10B<n<100B"),
    (1_000_000_000_000, "100B<n<1T"),
)


def size_category(n: int) -> str:
    """The Hub's size category for n rows."""
    return next((label for limit, label in SIZE_CATEGORIES if n < limit), "n>1T")


def card_text(
    meta: dict[str, Any],
    sizes: dict[str, dict[str, int]],
    nbytes: dict[str, dict[str, int]],
    downloads: dict[str, int],
    schemas: dict[str, pa.Schema],
    body: str,
) -> str:
    """The dataset card, written by the Hub's own libraries: `huggingface_hub.DatasetCardData`
    for the metadata and `datasets.info.DatasetInfosDict` for `dataset_info` (features, rows and
    bytes per split, download and dataset sizes), then the human body.

    `meta` holds the recipe's card fields; `sizes` each config's rows per split; `nbytes` their
    uncompressed bytes; `downloads` each config's bytes on disk; `trails` is the default config.
    """
    from datasets import Features
    from datasets.info import DatasetInfo, DatasetInfosDict
    from datasets.splits import SplitDict, SplitInfo
    from huggingface_hub import DatasetCard, DatasetCardData

    data = DatasetCardData(
        pretty_name=meta["pretty_name"],
        license=meta["license"],
        language=meta["language"],
        task_categories=meta["task_categories"],
        task_ids=meta["task_ids"] or None,
        size_categories=[size_category(sum(sizes["trails"].values()))],
        tags=meta["tags"],
        configs=[
            {
                "config_name": config,
                "data_files": [{"split": s, "path": shard_glob(config, s)} for s in splits],
                **({"default": True} if config == "trails" else {}),
            }
            for config, splits in sizes.items()
        ],
    )
    infos = {}
    for config, splits in sizes.items():
        split_dict = SplitDict()
        for split, rows in splits.items():
            split_dict.add(
                SplitInfo(name=split, num_bytes=nbytes[config][split], num_examples=rows)
            )
        infos[config] = DatasetInfo(
            features=Features.from_arrow_schema(schemas[config]),
            splits=split_dict,
            download_size=downloads[config],
            dataset_size=sum(nbytes[config].values()),
        )
    DatasetInfosDict(infos).to_dataset_card_data(data)
    return str(DatasetCard(f"---\n{data.to_yaml()}\n---\n\n{body}"))


def _order_line(recipe: Recipe) -> str:
    """How the rows are ordered, as the card says it."""
    if recipe.order == "shuffle":
        return "seeded shuffle"
    if recipe.difficulty.by == "surprisal":
        model = recorded_spec(recipe.difficulty.model or "")
        easiest = f"the lowest mean surprisal per token under `{model}` first (`rarity`: nats)"
    else:
        easiest = (
            "the most predictable tokens first (`rarity`: a token-id proxy under the "
            "first tokenizer)"
        )
    return (
        f"curriculum (stage; within a stage, trails of {easiest}; each base trail followed by "
        "its variants and walks by depth)"
    )


def card_body(
    recipe: Recipe, inputs: Inputs, sizes: dict[str, dict[str, int]], sample: list[dict[str, Any]]
) -> str:
    """The card's human body: how the version was built, how to load it and keep its order,
    one family, and how to rebuild it. The config table comes from the configs registry."""
    by_split = sizes["trails"]
    stages = ", ".join(f"{n}: {inputs.grammar.stages[n].name}" for n in recipe.stages)
    tokenizers = ", ".join(f"`{t.label}`" for t in inputs.tokenizers)
    lines = [
        f"# {recipe.name} {recipe.version}",
        "",
        recipe.description or "Reasoning trails built with trailforge.",
        "",
        "## How it was built",
        "",
        f"- **Stages** (curriculum, simple to rich): {stages}.",
        f"- **Domains**: {', '.join(sorted(inputs.content.domains))}.",
        f"- **Roles**: {', '.join(recipe.roles)}; **views**: {', '.join(recipe.views)}.",
        f"- **Mutators**: {', '.join(recipe.mutators)}; every variant differs from its parent by "
        f"1 to {recipe.max_token_distance} tokens under each of {tokenizers} (a flip, which "
        f"changes what follows: 1 to {recipe.max_flip_distance}), measured by re-encoding the "
        "final text.",
        "- **Connectives** are chosen by each step's relation to what precedes it (`steps.relation`:"
        " follows, opposes, counters, ...); `steps.distractor` marks a given fact that bears on no "
        "conclusion.",
        f"- **Families**: {recipe.variants_per_trail} single-edit variants and {recipe.walks} drift "
        f"walk(s) of up to {recipe.walk_depth} edits per base trail; a family never spans splits.",
        f"- **Order**: {_order_line(recipe)}.",
        "- **Splits**: " + ", ".join(f"{s} ({n} rows)" for s, n in by_split.items()) + ".",
        "",
        "## Load it",
        "",
        "```python",
        "import datasets",
        'trails = datasets.load_dataset("path/to/this/folder")           # default config: trails',
        'pairs = datasets.load_dataset("path/to/this/folder", "preference")',
        "```",
        "",
        "| config | columns | use |",
        "| --- | --- | --- |",
        *(
            f"| `{name}` | {config.columns} | {config.use} |"
            for name, config in CONFIGS.items()
            if name in sizes
        ),
        "",
        "`text`, `messages` and `prompt_completion` hold only valid rows (`valid` true): a broken "
        "chain's completion states a conclusion that does not follow. Every config but `trails` "
        "starts with `id`, `stage`, `family_id` and `depth` of its source row.",
        "",
        "## Keep the curriculum",
        "",
        "The rows are in curriculum order; trainers shuffle by default, which mixes the stages and "
        "scatters each family. With TRL on transformers 5:",
        "",
        "```python",
        "from trl import SFTConfig",
        'args = SFTConfig(train_sampling_strategy="sequential", packing=False)',
        "```",
        "",
        "(on transformers 4, override `Trainer._get_train_sampler` to return a "
        "`SequentialSampler`). Every prompt ends on a visible character, and its completion starts "
        "with the space before the conclusion, so the prompt's tokens are a prefix of the whole "
        "text's under each target tokenizer.",
        "",
        "Rows per config and split: "
        + "; ".join(
            f"{c}: " + ", ".join(f"{s} {n}" for s, n in splits.items())
            for c, splits in sizes.items()
        )
        + ".",
        "",
        "## One family",
        "",
    ]
    for row in sample:
        op = row["mutation"]["op"] if row["mutation"] else "base"
        lines.append(f"- depth {row['depth']} ({op}): {row['text']!r}")
    command = (
        f"trailforge build --recipe trailforge.yaml --version {recipe.version} "
        f"--seed {recipe.seed}"
        + (f" --limit {recipe.limit}" if recipe.limit else "")
        + "".join(f" --tokenizer {recorded_spec(t)}" for t in recipe.tokenizers)
    )
    lines += [
        "",
        "## Rebuild",
        "",
        "From a trailforge checkout whose input files match the hashes in `manifest.json`:",
        "",
        "```bash",
        command,
        "```",
        "",
        "The same inputs give byte-identical shards, whatever the number of workers.",
        "",
    ]
    return "\n".join(lines)
