"""Each config loads offline with `datasets` and has exactly the columns TRL trainers expect."""

from __future__ import annotations

import datasets
import pytest

from trailforge.configs import facts_turn, facts_turns
from trailforge.dataset import read_table
from trailforge.distance import token_distance
from trailforge.tokenize import load_tokenizer

STRING = datasets.Value("string")


@pytest.fixture(scope="module")
def loaded(mini_build):
    return {
        config: datasets.load_dataset(str(mini_build), config)
        for config in (
            "trails",
            "text",
            "messages",
            "prompt_completion",
            "preference",
            "preference_messages",
            "negatives",
        )
    }


INT = datasets.Value("int32")
LINEAGE = {"id": STRING, "stage": INT, "family_id": STRING, "depth": INT}
TURNS = [{"role": STRING, "content": STRING}]


def _plain(features):
    """Features as plain dicts and lists (datasets gives lists of dicts as List or [dict])."""
    return {
        name: [dict(getattr(f, "feature", None) or f[0])]
        if name in ("messages", "prompt", "chosen", "rejected")
        and not isinstance(f, datasets.Value)
        else f
        for name, f in features.items()
    }


def test_columns_and_types(loaded):
    assert loaded["text"]["train"].features == datasets.Features({**LINEAGE, "text": STRING})
    assert loaded["prompt_completion"]["train"].features == datasets.Features(
        {**LINEAGE, "prompt": STRING, "completion": STRING}
    )
    assert loaded["preference"]["train"].features == datasets.Features(
        {**LINEAGE, "prompt": STRING, "chosen": STRING, "rejected": STRING}
    )
    assert _plain(loaded["messages"]["train"].features) == {**LINEAGE, "messages": TURNS}
    assert _plain(loaded["preference_messages"]["train"].features) == {
        **LINEAGE,
        "prompt": TURNS,
        "chosen": TURNS,
        "rejected": TURNS,
    }


def test_training_configs_carry_the_curriculum(mini_build, loaded):
    trails = {r["id"]: r for r in read_table(mini_build).to_pylist()}
    for config in (
        "text",
        "messages",
        "prompt_completion",
        "preference",
        "preference_messages",
        "negatives",
    ):
        assert loaded[config], config
        for split, rows in loaded[config].items():
            assert rows["stage"] == sorted(rows["stage"]), (config, split)  # curriculum order
            for row in rows:
                source = trails[row["id"]]
                assert (row["stage"], row["family_id"], row["depth"]) == (
                    source["stage"],
                    source["family_id"],
                    source["depth"],
                ), config


def test_preference_messages_are_the_preference_pairs_as_conversations(loaded):
    for split, pairs in loaded["preference"].items():
        talks = loaded["preference_messages"][split]
        assert talks["id"] == pairs["id"]
        for talk, pair in zip(talks, pairs):
            (user,), (chosen,), (rejected,) = talk["prompt"], talk["chosen"], talk["rejected"]
            assert user["role"] == "user" and chosen["role"] == rejected["role"] == "assistant"
            assert user["content"].endswith("What follows?") and "\n" not in user["content"]
            assert chosen["content"] != rejected["content"]
            assert chosen["content"].strip() in pair["chosen"] or pair["chosen"].strip().endswith(
                chosen["content"].split(" ", 1)[1]
            )


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


def test_facts_turns_are_facts_turn_row_by_row(mini_build):
    import pyarrow as pa

    steps = read_table(mini_build)["steps"]
    expected = [facts_turn(row) for row in steps.to_pylist()]
    assert facts_turns(steps).to_pylist() == expected
    chunk = steps.combine_chunks()  # sliced chunks, and rows without facts, too
    sliced = pa.chunked_array([chunk.slice(3, 10), chunk.slice(40, 0), chunk.slice(50, 7)])
    assert facts_turns(sliced).to_pylist() == expected[3:13] + expected[50:57]
    inferred = [{**s, "relation": "follows"} for s in steps.to_pylist()[0]]
    only_inferences = pa.chunked_array([pa.array([inferred], steps.type)])
    assert facts_turns(only_inferences).to_pylist() == [facts_turn(inferred)]
    assert facts_turn(inferred) == "Facts: What follows, and why?"
    tagged = [{**s, "text": f"[!] {s['text']}"} for s in steps.to_pylist()[0]]
    for sentence in facts_turn(tagged).removeprefix("Facts: ").split(". ")[:-1]:
        assert sentence.startswith("[!] ") and sentence[4].isupper(), sentence  # not "[!] solid"


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
