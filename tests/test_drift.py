"""Drift maps with the real MiniLM encoder and a tiny random causal LM (no downloads)."""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from trailforge.cli import main

from .conftest import MINI
from .tokenizer_files import byte_level_bpe

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def encoder(torch_module):
    from trailforge.drift.model import DriftModel

    return DriftModel("minilm", device="cpu")


def test_identical_texts_do_not_shift(encoder):
    from trailforge.drift.model import Pair

    pair = Pair(
        "Suppose a rod is heated. Then it expands.",
        " Therefore, it gets longer.",
        "Suppose a rod is heated. Then it expands.",
        " Therefore, it gets longer.",
    )
    (result,) = encoder.measure([pair])
    assert result["embedding_shift"] == pytest.approx(0, abs=1e-6)
    assert result["conclusion_shift"] == pytest.approx(0, abs=1e-6)
    assert all(v == pytest.approx(0, abs=1e-6) for v in result["layer_shift"])


def test_flips_move_the_conclusion_more_than_anchors(encoder, default_build):
    from trailforge.drift.report import sample_pairs

    variants, pairs = sample_pairs(default_build.path, sample=None)
    chosen = {"flip": [], "anchor": []}
    for row, pair in zip(variants, pairs):
        op = row["mutation"]["op"]
        if op in chosen and len(chosen[op]) < 60:
            chosen[op].append(pair)
    shift = {
        op: statistics.fmean(r["conclusion_shift"] for r in encoder.measure(items))
        for op, items in chosen.items()
    }
    assert len(chosen["flip"]) == len(chosen["anchor"]) == 60
    assert shift["flip"] > shift["anchor"]


def test_drift_map_files_and_report(mini_build, tmp_path, torch_module):
    out = tmp_path / "map" / "drift.parquet"
    result = CliRunner().invoke(
        main, ["drift", str(mini_build), "--sample", "40", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    import pyarrow.parquet as pq

    table = pq.read_table(out)
    assert table.num_rows == 40 and {
        "id",
        "op",
        "stage",
        "token_distance",
        "embedding_shift",
        "layer_shift",
        "conclusion_shift",
    } <= set(table.column_names)
    html = (out.parent / "report.html").read_text()
    for name in ("shift_vs_distance.png", "shift_by_stage.png", "shift_histogram.png"):
        assert (out.parent / name).read_bytes()[:8] == PNG
        assert f'src="{name}"' in html
    assert "The 10 largest shifts" in html
    again = CliRunner().invoke(main, ["drift", str(mini_build), "--sample", "5", "--out", str(out)])
    assert again.exit_code == 2 and "already exists" in again.output


def tiny_gpt2(folder: Path) -> Path:
    from tokenizers import Tokenizer
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    tok = Tokenizer.from_file(str(byte_level_bpe(folder / "bpe.json", 400, ("<|endoftext|>",))))
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|endoftext|>"
    )
    import torch

    torch.manual_seed(0)
    model = GPT2LMHeadModel(
        GPT2Config(vocab_size=len(fast), n_positions=512, n_embd=32, n_layer=2, n_head=2)
    )
    model.save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


def test_causal_lm_path_gives_finite_nonnegative_kl(mini_build, tmp_path, torch_module):
    import math

    from trailforge.drift.report import drift_map

    model = tiny_gpt2(tmp_path / "gpt2")
    result = drift_map(
        mini_build, model=str(model), sample=12, out=tmp_path / "c" / "drift.parquet", device="cpu"
    )
    assert result.measure == "logprob_shift"
    for row in result.rows:
        assert math.isfinite(row["kl"]) and row["kl"] >= 0
        assert math.isfinite(row["conclusion_logp_delta"]) and row["logprob_shift"] >= 0


def test_without_torch_the_command_explains_how_to_install(mini_build, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    result = CliRunner().invoke(
        main, ["drift", str(mini_build), "--out", str(tmp_path / "d.parquet")]
    )
    assert result.exit_code == 2 and "pip install" in result.output


def test_max_drift_drops_volatile_variants(tmp_path, encoder):
    from trailforge.dataset import read_table
    from trailforge.drift.model import Pair
    from trailforge.factory import build_version
    from trailforge.recipe import load_recipe

    limit = 0.01
    recipe = load_recipe(
        MINI / "trailforge.yaml",
        output=str(tmp_path),
        limit=10,
        max_drift={"model": "minilm", "measure": "embedding_shift", "limit": limit},
    )
    result = build_version(recipe, workers=1)
    dropped = sum(m["rejected"].get("over_drift", 0) for m in result.stats["mutations"].values())
    assert dropped > 0
    rows = {r["id"]: r for r in read_table(result.path).to_pylist()}
    variants = [r for r in rows.values() if r["parent_id"]]
    assert variants and all(r["parent_id"] in rows for r in variants)
    measured = encoder.measure(
        [
            Pair(
                rows[r["parent_id"]]["prompt"],
                rows[r["parent_id"]]["completion"],
                r["prompt"],
                r["completion"],
            )
            for r in variants
        ]
    )
    assert max(m["embedding_shift"] for m in measured) <= limit + 1e-6
    assert (
        json.loads((result.path / "manifest.json").read_text())["recipe"]["max_drift"]["limit"]
        == limit
    )
