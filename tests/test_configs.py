"""Each config loads offline with `datasets` and has exactly the columns TRL trainers expect."""

from __future__ import annotations

import datasets
import pytest

from trailforge.dataset import read_table
from trailforge.distance import token_distance
from trailforge.tokenize import load_tokenizer

STRING = datasets.Value("string")


@pytest.fixture(scope="module")
def loaded(mini_build):
    return {config: datasets.load_dataset(str(mini_build), config)
            for config in ("trails", "text", "messages", "prompt_completion", "preference",
                           "negatives")}


def test_columns_and_types(loaded):
    assert loaded["text"]["train"].features == datasets.Features({"id": STRING, "text": STRING})
    assert loaded["prompt_completion"]["train"].features == datasets.Features(
        {"id": STRING, "prompt": STRING, "completion": STRING})
    assert loaded["preference"]["train"].features == datasets.Features(
        {"id": STRING, "prompt": STRING, "chosen": STRING, "rejected": STRING})
    messages = loaded["messages"]["train"].features["messages"]
    inner = getattr(messages, "feature", None) or messages[0]
    assert dict(inner) == {"role": STRING, "content": STRING}


def test_every_config_joins_back_to_trails_split_by_split(loaded):
    for split, trails in loaded["trails"].items():
        ids = set(trails["id"])
        valid = [i for i, ok in zip(trails["id"], trails["valid"]) if ok]
        for config in ("text", "messages", "prompt_completion"):
            assert loaded[config][split]["id"] == valid  # the valid rows, in the same order
        if split in loaded["preference"]:
            assert set(loaded["preference"][split]["id"]) <= ids


def test_messages_are_the_user_facts_and_the_assistant_trail(loaded):
    row = loaded["messages"]["train"][0]
    trail = loaded["trails"]["train"][0]
    assert [m["role"] for m in row["messages"]] == ["user", "assistant"]
    assert row["messages"][1]["content"] == trail["text"]
    assert row["messages"][0]["content"].startswith("Facts: ")
    assert trail["steps"][0]["text"][1:] in row["messages"][0]["content"]


def test_preference_pairs_are_minimal(mini_build, loaded):
    trails = {r["id"]: r for r in read_table(mini_build).to_pylist()}
    tok = load_tokenizer("o200k_base")
    pairs = [p for split in loaded["preference"].values() for p in split]
    assert pairs
    for pair in pairs:
        source = trails[pair["id"]]
        assert pair["prompt"] == source["prompt"] and pair["chosen"] != pair["rejected"]
        if source["valid"]:  # a flip pair: the row's own completion is chosen
            assert pair["chosen"] == source["completion"]
            a, b = tok.encode_batch([pair["chosen"], pair["rejected"]])
            assert 1 <= token_distance(a, b) <= 2
        else:  # a broken chain: the conclusion that follows beats the one it showed
            assert source["completion"].startswith(pair["rejected"])
    flips = [r for r in trails.values() if r["mutation"] and r["mutation"]["op"] == "flip"]
    broken = [r for r in trails.values() if not r["valid"] and r["depth"] == 0]
    assert broken and len(pairs) == 2 * len(flips) + len(broken)
