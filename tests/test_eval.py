"""`trailforge eval`: each measure on hand-made cases whose answer is known, and the command end
to end with a tiny randomly initialised GPT-2 built here (no download)."""

from __future__ import annotations

import json
import math
import shutil

import pyarrow as pa
import pytest
from click.testing import CliRunner

from trailforge.cli import main
from trailforge.eval import measures
from trailforge.eval.measures import Question


def prefers(favourite: str):
    """A scorer that likes completions containing `favourite` and nothing else."""
    return lambda prompts, completions: [1.0 if favourite in c else 0.0 for c in completions]


def test_a_model_that_always_prefers_one_string():
    right = [Question("p", "yes it holds", ("no it fails", "maybe")) for _ in range(7)]
    wrong = [Question("p", "no it fails", ("yes it holds", "maybe")) for _ in range(3)]
    report = measures.recall(right + wrong, prefers("yes"))
    assert report["accuracy_at_1"].value == pytest.approx(0.7) and report["accuracy_at_1"].n == 10
    # a right answer the model scores 0 ranks behind "yes" and ties with "maybe": rank 3
    assert report["mean_rank"].value == pytest.approx((7 * 1 + 3 * 3) / 10)
    low, high = report["accuracy_at_1"].low, report["accuracy_at_1"].high
    assert 0.39 < low < 0.7 < high < 0.92  # Wilson's interval for 7 of 10


def test_ties_count_against_the_right_answer_and_groups_break_down():
    flat = lambda prompts, completions: [0.0] * len(completions)  # noqa: E731
    questions = [
        Question("p", "a", ("b",), ("stage=1",)),
        Question("p", "a", ("b", "c"), ("stage=2",)),
    ]
    report = measures.recall(questions, flat)
    assert report["accuracy_at_1"].value == 0
    assert report["by_stage"]["2"]["mean_rank"].value == 3


def test_minimal_pairs_and_a_pair_where_chosen_equals_rejected():
    pairs = [("p", "yes", "no"), ("p", "no", "yes"), ("p", "yes", "yes")]
    figure = measures.minimal_pairs(pairs, prefers("yes"))
    assert figure.n == 3 and figure.value == pytest.approx(1 / 3)


def test_identical_texts_are_stable_and_flips_move():
    same = Question("p", "right", ("wrong",))
    assert measures.stability([[same, same, same]], prefers("right")).value == 1.0
    moved = [Question("p", "right", ("wrong",)), Question("q", "wrong", ("right",))]
    assert measures.stability([moved], prefers("right")).value == 0.0
    flips = [Question("p", "flipped", ("parent",)), Question("p", "parent x", ("flipped x",))]
    assert measures.flip_sensitivity(flips, prefers("flipped")).value == 0.5


def test_perplexity_and_empty_figures():
    result = measures.perplexity([(-2.0, 2), (-4.0, 2)])
    assert result["perplexity"] == pytest.approx(math.exp(1.5)) and result["tokens"] == 4
    assert math.isnan(measures.share(0, 0).value) and measures.mean([2.0]).low == 2.0


@pytest.fixture(scope="module")
def tiny_gpt2(tmp_path_factory, torch_module):
    """A 2-layer GPT-2 with random weights and a byte-level BPE trained here (no download)."""
    from .test_drift import tiny_gpt2 as build

    return build(tmp_path_factory.mktemp("tiny-gpt2"))


def test_eval_runs_on_a_build_with_a_tiny_gpt2(mini_build, tiny_gpt2, tmp_path):
    reference = tmp_path / "reference.txt"
    reference.write_text("The river rises in spring.\nA small boat crosses the lake.\n")
    out = tmp_path / "eval.json"
    result = CliRunner().invoke(
        main,
        [
            "eval",
            str(mini_build),
            "--model",
            str(tiny_gpt2),
            "--split",
            "test",
            "--sample",
            "6",
            "--out",
            str(out),
            "--reference",
            str(reference),
            "--device",
            "cpu",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["families"] >= 1 and out.with_suffix(".png").is_file()
    accuracy = report["recall"]["accuracy_at_1"]
    asked = report["families"] - report["families_without_candidates"]
    assert accuracy["n"] == asked >= 1 and 0 <= accuracy["value"] <= 1
    assert 2 <= report["candidates_per_trail"]["fewest"] <= report["candidates_per_trail"]["most"]
    assert accuracy["ci95"][0] <= accuracy["value"] <= accuracy["ci95"][1]
    assert math.isfinite(report["damage"]["perplexity"]) and report["damage"]["tokens"] > 0
    assert "conclusion recall" in result.output and "flip sensitivity" in result.output


def test_eval_runs_on_the_default_build(default_build, tiny_gpt2, tmp_path):
    for split in ("test", "ood"):
        out = tmp_path / f"{split}.json"
        result = CliRunner().invoke(
            main,
            [
                "eval",
                str(default_build.path),
                "--model",
                str(tiny_gpt2),
                "--split",
                split,
                "--sample",
                "8",
                "--out",
                str(out),
                "--device",
                "cpu",
            ],
        )
        assert result.exit_code == 0, result.output
        report = json.loads(out.read_text())
        assert report["families"] == 8 and report["recall"]["accuracy_at_1"]["n"] == 8
        assert report["stability"]["n"] == 8 and report["minimal_pairs"]["n"] > 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model", "no/such/folder"], "no model folder"),
        (["--model", "{tiny}", "--split", "nonexistent"], "has no 'nonexistent' rows"),
        (["--model", "{tiny}", "--device", "tpu"], "unknown device 'tpu'"),
    ],
)
def test_eval_bad_input_is_a_clear_error(mini_build, tiny_gpt2, args, message):
    args = [a.replace("{tiny}", str(tiny_gpt2)) for a in args]
    result = CliRunner().invoke(main, ["eval", str(mini_build), *args])
    assert result.exit_code == 2 and message in result.output
    assert "Traceback" not in result.output


def _base_row(family: str, stage: int, conclusion: str, valid: bool = True) -> dict:
    return {
        "family_id": family,
        "depth": 0,
        "valid": valid,
        "stage": stage,
        "domain": "law",
        "conclusion": conclusion,
        "mutation": None,
        "label_flipped": False,
        "prompt": f"{family} premise.",
        "completion": f"So {conclusion}.",
    }


def test_a_family_with_no_wrong_conclusion_to_offer_asks_nothing():
    from trailforge.eval.report import questions

    rows = [
        _base_row("a", 1, "the bar holds"),
        _base_row("b", 1, "the bar bends"),
        _base_row("c", 2, "the claim fails"),  # alone in its stage, no flip: one candidate
        _base_row("d", 3, "the case is closed", valid=False),  # broken chains are not sampled
    ]
    recall, stable, flips, sampled = questions(rows, sample=10, seed=0)
    assert sampled == {"a", "b", "c"}
    assert [q.prompt for q in recall] == ["a premise.", "b premise."]
    assert all(len(q.wrong) == 1 for q in recall) and len(stable) == 2 and not flips


def test_a_split_with_nothing_to_ask_is_a_clear_error(mini_build, tiny_gpt2, tmp_path):
    import pyarrow.parquet as pq

    broken = tmp_path / "broken"  # a copy whose test split holds only broken chains
    shutil.copytree(mini_build, broken)
    for path in (broken / "data" / "trails").glob("test-*.parquet"):
        table = pq.read_table(path)
        valid = table.schema.get_field_index("valid")
        pq.write_table(table.set_column(valid, "valid", pa.array([False] * table.num_rows)), path)
    result = CliRunner().invoke(main, ["eval", str(broken), "--model", str(tiny_gpt2)])
    assert result.exit_code == 2, result.output
    assert "no family to ask" in result.output and "Traceback" not in result.output


def test_a_cuda_device_without_cuda_is_refused_before_loading(torch_module, monkeypatch):
    from trailforge.errors import ModelError
    from trailforge.lm import resolve_device

    monkeypatch.setattr(torch_module.cuda, "is_available", lambda: False)
    assert resolve_device(torch_module, "auto") == "cpu"
    assert resolve_device(torch_module, "cpu") == "cpu"
    for device in ("cuda", "cuda:1"):
        with pytest.raises(ModelError, match="CUDA is not available") as info:
            resolve_device(torch_module, device)
        assert "--device cpu" in info.value.hint


def test_eval_refuses_a_model_that_is_not_causal(mini_build, torch_module, wordpiece_path):
    encoder = wordpiece_path.parent  # the MiniLM encoder
    result = CliRunner().invoke(main, ["eval", str(mini_build), "--model", str(encoder)])
    assert result.exit_code == 2 and "not a causal language model" in result.output
