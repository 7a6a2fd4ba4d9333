"""`trailforge eval`: each measure on hand-made cases whose answer is known, and the command end
to end with a tiny randomly initialised GPT-2 built here (no download)."""

from __future__ import annotations

import json
import math

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
    assert accuracy["n"] == report["families"] and 0 <= accuracy["value"] <= 1
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
    ],
)
def test_eval_bad_input_is_a_clear_error(mini_build, tiny_gpt2, args, message):
    args = [a.replace("{tiny}", str(tiny_gpt2)) for a in args]
    result = CliRunner().invoke(main, ["eval", str(mini_build), *args])
    assert result.exit_code == 2 and message in result.output
    assert "Traceback" not in result.output


def test_eval_refuses_a_model_that_is_not_causal(mini_build, torch_module, wordpiece_path):
    encoder = wordpiece_path.parent  # the MiniLM encoder
    result = CliRunner().invoke(main, ["eval", str(mini_build), "--model", str(encoder)])
    assert result.exit_code == 2 and "not a causal language model" in result.output
