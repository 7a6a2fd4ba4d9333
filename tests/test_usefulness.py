"""bench/usefulness.py: its arms are what they claim, and the whole path runs at tiny sizes
(asserting only that it completes with finite figures, never an outcome)."""

from __future__ import annotations

import importlib.util
import json
import math
import random
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "usefulness.py"


@pytest.fixture(scope="module")
def usefulness():
    spec = importlib.util.spec_from_file_location("usefulness", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["usefulness"] = module  # dataclasses look their module up while defining
    spec.loader.exec_module(module)
    return module


ROWS = [
    {"family_id": "f1", "depth": 0, "text": "If it rains the road is wet."},
    {"family_id": "f1", "depth": 1, "text": "If it rains, the road is wet."},
    {"family_id": "f2", "depth": 0, "text": "Ice melts above zero degrees."},
    {"family_id": "f2", "depth": 1, "text": "Ice melts above 0 degrees."},
    {"family_id": "f2", "depth": 2, "text": "Ice melts above 0 degrees C."},
]


def test_arms_fill_the_same_slots(usefulness):
    a, b, c, d = (usefulness.arm_texts(ROWS, arm, seed=0) for arm in "ABCD")
    assert b == [r["text"] for r in ROWS]
    assert a == [ROWS[0]["text"]] * 2 + [ROWS[2]["text"]] * 3  # bases in their variants' slots
    assert len(c) == len(b) and c[0] == b[0] and c[2] == b[2]  # bases kept, variants augmented
    assert sorted(d) == sorted(b)
    assert usefulness.arm_texts(ROWS, "C", seed=0) == c  # seeded
    with pytest.raises(ValueError):
        usefulness.arm_texts(ROWS, "E", seed=0)


def test_random_word_augmentation_is_unbounded_and_changes_the_text(usefulness):
    text = "If the river rises in spring then the low fields flood before the harvest."
    pool = ["banana", "orbit", "velvet"]
    outs = {usefulness.random_word_augment(text, pool, random.Random(seed)) for seed in range(20)}
    assert text not in outs and len(outs) > 10
    # 30% of 14 words: 4 words touched, far more than a 1-2 token edit
    assert any(len(set(o.split()) ^ set(text.split())) >= 4 for o in outs)
    assert usefulness.random_word_augment("one", pool, random.Random(0))  # never empties a text


def test_every_arm_gets_the_same_budget(usefulness):
    assert usefulness.fit_to([1, 2, 3], 7) == [1, 2, 3, 1, 2, 3, 1]
    assert usefulness.fit_to(list(range(10)), 4) == [0, 1, 2, 3]


def test_over_seeds_gives_a_t_interval(usefulness):
    figure = usefulness.over_seeds([0.2, 0.4, 0.6])
    assert figure["mean"] == pytest.approx(0.4) and figure["sd"] == pytest.approx(0.2)
    half = 4.303 * 0.2 / math.sqrt(3)
    assert figure["ci95"] == pytest.approx([0.4 - half, 0.4 + half], abs=1e-6)
    assert math.isnan(usefulness.over_seeds([math.nan])["mean"])


def test_the_smoke_run_completes_with_finite_figures(tmp_path, torch_module):
    out = tmp_path / "usefulness.json"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke", "--work", str(tmp_path / "w"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert set(result["summary"]["arms"]) == set("ABCD") and out.with_suffix(".png").is_file()
    for arm in result["summary"]["arms"].values():
        for split in ("test", "ood"):
            for name in ("recall_accuracy_at_1", "recall_mean_rank", "stability"):
                assert math.isfinite(arm[split][name]["mean"]), (split, name)
        assert math.isfinite(arm["validation_perplexity"]["mean"])
    for runs in result["runs"].values():
        assert all(r["train"]["tokens"] == result["data"]["budget_tokens"] for r in runs.values())
