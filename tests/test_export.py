"""`trailforge export`: each format's shape and counts, splits kept apart, no overwrite."""

from __future__ import annotations

import json

import datasets
import pytest
import yaml
from click.testing import CliRunner

from trailforge.cli import main
from trailforge.dataset import read_manifest, read_table


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def _counts(mini_build, config):
    return read_manifest(mini_build)["configs"][config]


def test_openai_sft_and_dpo_jsonl_per_split(mini_build, tmp_path):
    result = CliRunner().invoke(
        main, ["export", str(mini_build), "--format", "openai", "--out", str(tmp_path / "oa")]
    )
    assert result.exit_code == 0, result.output
    for split, n in _counts(mini_build, "messages").items():
        rows = _lines(tmp_path / "oa" / "sft" / f"{split}.jsonl")
        assert len(rows) == n
        assert [m["role"] for m in rows[0]["messages"]] == ["user", "assistant"]
    for split, n in _counts(mini_build, "preference_messages").items():
        rows = _lines(tmp_path / "oa" / "dpo" / f"{split}.jsonl")
        assert len(rows) == n
        row = rows[0]
        assert set(row) == {"input", "preferred_output", "non_preferred_output"}
        assert row["input"]["messages"][0]["role"] == "user"
        assert row["preferred_output"][0]["role"] == "assistant"
        assert row["preferred_output"] != row["non_preferred_output"]


def test_llama_factory_has_one_entry_per_config_and_split(mini_build, tmp_path):
    out = tmp_path / "lf"
    assert (
        CliRunner()
        .invoke(main, ["export", str(mini_build), "--format", "llama-factory", "--out", str(out)])
        .exit_code
        == 0
    )
    info = json.loads((out / "dataset_info.json").read_text())
    for config in ("text", "prompt_completion", "messages", "preference", "preference_messages"):
        for split, n in _counts(mini_build, config).items():
            entry = info[f"mini_{config}_{split}"]
            rows = _lines(out / entry["file_name"])
            assert len(rows) == n and set(entry["columns"].values()) <= set(rows[0])
    assert all(e["file_name"].count("/") == 1 for e in info.values())  # a file, never a folder
    pair = _lines(out / info["mini_preference_messages_train"]["file_name"])[0]
    assert pair["chosen"]["role"] == "assistant" and isinstance(pair["prompt"], list)
    assert info["mini_preference_train"]["ranking"] is True


def test_axolotl_snippets_read_the_shards_in_place(mini_build, tmp_path, monkeypatch):
    out = tmp_path / "ax"
    assert (
        CliRunner()
        .invoke(main, ["export", str(mini_build), "--format", "axolotl", "--out", str(out)])
        .exit_code
        == 0
    )
    files = read_manifest(mini_build)["files"]
    for config, kind in (
        ("text", "completion"),
        ("messages", "chat_template"),
        ("preference", "chatml.prompt_pairs"),
    ):
        snippet = yaml.safe_load((out / f"{config}.yaml").read_text())
        train = snippet["datasets"]
        assert len(train) == 1 and train[0]["type"] == kind
        folder = mini_build.resolve()
        assert all(f.startswith(f"{folder}/data/{config}/train-") for f in train[0]["data_files"])
        held = [f for entry in snippet.get("test_datasets", []) for f in entry["data_files"]]
        assert held and not any("/train-" in f for f in held)  # held-out splits stay apart
        expected = {str(folder / f) for f in files if f"/{config}/" in f}
        assert set(train[0]["data_files"] + held) == expected
    # as axolotl loads a local folder with data_files, from a working folder of its own
    entry = yaml.safe_load((out / "messages.yaml").read_text())["datasets"][0]
    monkeypatch.chdir(tmp_path)
    loaded = datasets.load_dataset(entry["ds_type"], data_files=entry["data_files"], split="train")
    assert loaded.num_rows == _counts(mini_build, "messages")["train"]
    assert yaml.safe_load((out / "preference.yaml").read_text())["rl"] == "dpo"
    assert "&id" not in (out / "prompt_completion.yaml").read_text()
    pc = yaml.safe_load((out / "prompt_completion.yaml").read_text())["datasets"][0]["type"]
    assert pc["field_instruction"] == "prompt" and pc["field_output"] == "completion"


def test_export_streams_every_row_and_refuses_a_used_folder(mini_build, tmp_path):
    out = tmp_path / "again"
    args = ["export", str(mini_build), "--format", "openai", "--out", str(out)]
    assert CliRunner().invoke(main, args).exit_code == 0
    before = sorted(p.read_bytes() for p in out.rglob("*.jsonl"))
    result = CliRunner().invoke(main, args)
    assert (
        result.exit_code == 2 and "not empty" in result.output and "Traceback" not in result.output
    )
    assert sorted(p.read_bytes() for p in out.rglob("*.jsonl")) == before  # nothing overwritten
    total = sum(len(_lines(p)) for p in (out / "sft").glob("*.jsonl"))
    assert total == read_table(mini_build, "messages").num_rows


@pytest.mark.parametrize(
    "args, message",
    [(["--format", "csv"], "Invalid value"), (["--format", "openai"], "dataset folder not found")],
)
def test_export_bad_input(tmp_path, args, message):
    result = CliRunner().invoke(main, ["export", str(tmp_path / "nope"), *args])
    assert result.exit_code == 2 and message in result.output


def test_the_api_refuses_an_unknown_format_and_writes_nothing(mini_build, tmp_path):
    import trailforge
    from trailforge.errors import OutputError

    with pytest.raises(OutputError, match="unknown export format 'csv'") as info:
        trailforge.export(mini_build, "csv", tmp_path / "out")
    assert "openai" in info.value.hint and not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "damage, fmt", [("truncate", "openai"), ("delete", "llama-factory"), ("truncate", "axolotl")]
)
def test_a_damaged_shard_is_named_and_no_partial_export_is_left(mini_build, tmp_path, damage, fmt):
    import shutil

    version = tmp_path / "v"
    shutil.copytree(mini_build, version)
    shard = sorted((version / "data" / "messages").glob("*.parquet"))[-1]
    if damage == "delete":
        shard.unlink()
    else:
        shard.write_bytes(shard.read_bytes()[:300])
    out = tmp_path / "export"
    result = CliRunner().invoke(main, ["export", str(version), "--format", fmt, "--out", str(out)])
    if fmt == "axolotl":  # snippets only name the shards: nothing is read
        assert result.exit_code == 0, result.output
        return
    assert result.exit_code == 2, result.output
    assert f"cannot read shard data/messages/{shard.name}" in result.output
    assert "trailforge verify" in result.output and "Traceback" not in result.output
    assert not out.exists() and not list(tmp_path.glob(".export*"))  # nothing half-written
