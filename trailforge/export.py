"""`trailforge export`: a built version in the formats other trainers read, written from the
stored Parquet batch by batch (never the whole config in memory).

- openai: chat fine-tuning JSONL per split: `sft/<split>.jsonl` from `messages`
  ({"messages": [...]}) and `dpo/<split>.jsonl` from `preference_messages`
  ({"input": {"messages": [...]}, "preferred_output": [...], "non_preferred_output": [...]}).
- llama-factory: `<config>/<split>.jsonl` and a `dataset_info.json` with one entry per config
  and split (`<name>_<config>_<split>`), so evaluation splits are never merged into train.
- axolotl: `<config>.yaml`, a `datasets:` (or `test_datasets:`) snippet per config with a type
  axolotl has, reading the version's Parquet shards in place (absolute paths: axolotl passes
  `data_files` to `load_dataset` as they are, so they must not depend on its working folder).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from .dataset import read_manifest
from .errors import DatasetError, OutputError
from .layout import by_config
from .registry import Registry

SHAREGPT_TAGS = {
    "role_tag": "role",
    "content_tag": "content",
    "user_tag": "user",
    "assistant_tag": "assistant",
}
#: LLaMA-Factory's dataset_info.json entry for each config (its `file_name` added per split).
LLAMA_FACTORY: dict[str, dict[str, Any]] = {
    "text": {"columns": {"prompt": "text"}},  # pre-training (stage: pt)
    "prompt_completion": {"columns": {"prompt": "prompt", "response": "completion"}},
    "messages": {
        "formatting": "sharegpt",
        "columns": {"messages": "messages"},
        "tags": SHAREGPT_TAGS,
    },
    "preference": {
        "ranking": True,
        "columns": {"prompt": "prompt", "chosen": "chosen", "rejected": "rejected"},
    },
    "preference_messages": {
        "formatting": "sharegpt",
        "ranking": True,
        "columns": {"messages": "prompt", "chosen": "chosen", "rejected": "rejected"},
        "tags": SHAREGPT_TAGS,
    },
}
#: axolotl's dataset types for each config, and whether it is an RL (DPO) dataset.
AXOLOTL: dict[str, tuple[dict[str, Any], bool]] = {
    "text": ({"type": "completion", "field": "text"}, False),
    "prompt_completion": (
        {
            "type": {
                "field_instruction": "prompt",
                "field_output": "completion",
                "format": "{instruction}",
                "no_input_format": "{instruction}",
            }
        },
        False,
    ),
    "messages": (
        {
            "type": "chat_template",
            "field_messages": "messages",
            "message_property_mappings": {"role": "role", "content": "content"},
        },
        False,
    ),
    "preference": ({"type": "chatml.prompt_pairs"}, True),
}


def _batches(directory: Path, names: list[str], columns: list[str]) -> Iterator[list[dict]]:
    for name in names:
        try:
            with pq.ParquetFile(directory / name) as file:
                for batch in file.iter_batches(batch_size=4096, columns=columns):
                    yield batch.to_pylist()
        except (OSError, pa.ArrowException) as exc:
            raise DatasetError(
                f"cannot read shard {name}: {str(exc).splitlines()[0]}",
                file=directory / name,
                hint="run `trailforge verify` on the version; rebuild it if a file is damaged",
            ) from None


def _write_jsonl(path: Path, rows: Iterator[list[dict]], shape: Callable[[dict], dict]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for batch in rows:
            for row in batch:
                out.write(json.dumps(shape(row), ensure_ascii=False) + "\n")
                count += 1
    return count


def _openai(directory: Path, name: str, shards: dict, out: Path) -> list[Path]:
    written = []
    for split, names in shards.get("messages", {}).items():
        path = out / "sft" / f"{split}.jsonl"
        _write_jsonl(
            path, _batches(directory, names, ["messages"]), lambda r: {"messages": r["messages"]}
        )
        written.append(path)
    for split, names in shards.get("preference_messages", {}).items():
        path = out / "dpo" / f"{split}.jsonl"
        _write_jsonl(
            path,
            _batches(directory, names, ["prompt", "chosen", "rejected"]),
            lambda r: {
                "input": {"messages": r["prompt"]},
                "preferred_output": r["chosen"],
                "non_preferred_output": r["rejected"],
            },
        )
        written.append(path)
    return written


def _sharegpt_pair(row: dict) -> dict:
    """LLaMA-Factory's sharegpt ranking wants one chosen and one rejected message, not lists."""
    return {**row, "chosen": row["chosen"][0], "rejected": row["rejected"][0]}


def _llama_factory(directory: Path, name: str, shards: dict, out: Path) -> list[Path]:
    info: dict[str, Any] = {}
    written = []
    for config, entry in LLAMA_FACTORY.items():
        for split, names in shards.get(config, {}).items():
            path = out / config / f"{split}.jsonl"
            shape = _sharegpt_pair if config == "preference_messages" else dict
            columns = ["id", "stage", "family_id", "depth", *sorted(set(entry["columns"].values()))]
            _write_jsonl(path, _batches(directory, names, columns), shape)
            info[f"{name}_{config}_{split}"] = {"file_name": f"{config}/{split}.jsonl", **entry}
            written.append(path)
    index = out / "dataset_info.json"
    index.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return [index, *written]


def _axolotl(directory: Path, name: str, shards: dict, out: Path) -> list[Path]:
    written = []
    out.mkdir(parents=True, exist_ok=True)
    for config, (dataset_type, rl) in AXOLOTL.items():
        if config not in shards:
            continue
        snippet: dict[str, Any] = {"rl": "dpo"} if rl else {}
        folder = directory.resolve()
        for key, splits in (
            ("datasets", ["train"]),
            ("test_datasets", [s for s in shards[config] if s != "train"]),
        ):
            entries = [
                {
                    "path": str(folder),
                    "ds_type": "parquet",
                    # absolute: axolotl hands data_files to load_dataset without the folder
                    "data_files": [str(folder / name) for name in shards[config][s]],
                    "split": "train",
                    **copy.deepcopy(dataset_type),
                }  # copies: no YAML anchors
                for s in splits
                if s in shards[config]
            ]
            if entries:
                snippet[key] = entries
        path = out / f"{config}.yaml"
        path.write_text(
            f"# axolotl: the {config} config of this version (test_datasets: the "
            "held-out splits, one entry each)\n" + yaml.safe_dump(snippet, sort_keys=False),
            encoding="utf-8",
        )
        written.append(path)
    return written


@dataclass(frozen=True)
class Format:
    """An export format: its writer (version folder, version name, shards by config and split,
    target folder -> files written) and what it writes."""

    write: Callable[[Path, str, dict, Path], list[Path]]
    description: str


FORMATS: Registry[Format] = Registry(
    "export format",
    {
        "openai": Format(
            _openai, "sft/<split>.jsonl (messages) and dpo/<split>.jsonl (preference_messages)"
        ),
        "llama-factory": Format(
            _llama_factory,
            "<config>/<split>.jsonl + dataset_info.json, one entry per config and split",
        ),
        "axolotl": Format(
            _axolotl, "<config>.yaml: datasets (train) and test_datasets (held-out splits) snippets"
        ),
    },
    OutputError,
)


def export(directory: Path, fmt: str, out: Path | None = None) -> list[Path]:
    """Write `directory`'s version in format `fmt` under `out` (default: DIR.export/<fmt>/);
    returns the files written. An existing, non-empty `out` is refused (nothing is overwritten)."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    writer = FORMATS.lookup(fmt).write
    target = Path(out) if out else directory.parent / f"{directory.name}.export" / fmt
    if target.exists() and any(target.iterdir()):
        raise OutputError(
            "the export folder is not empty",
            file=target,
            hint="pass --out to a new folder, or remove the old export",
        )
    shards = by_config(manifest.get("files", {}))
    partial = target.with_name(f".{target.name}.partial")
    try:
        shutil.rmtree(partial, ignore_errors=True)  # what an interrupted export left
        written = writer(directory, manifest.get("name", "trailforge"), shards, partial)
        partial.mkdir(parents=True, exist_ok=True)  # a version with nothing to export
        os.replace(partial, target)  # the export appears whole or not at all
    except OSError as exc:
        raise OutputError(
            f"cannot write the export: {exc.strerror or exc}",
            file=target,
            hint="check the folder is writable and the disk has room",
        ) from None
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return [target / path.relative_to(partial) for path in written]
