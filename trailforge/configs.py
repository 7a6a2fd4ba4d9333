"""Dataset configs: projections of `trails` rows that trainers read without column mapping.

| config | columns (besides `id`) | for |
| --- | --- | --- |
| trails | the full row schema | analysis, custom training |
| text | text | language modelling (TRL SFT, `dataset_text_field="text"`) |
| messages | messages: [{role, content}] | conversational SFT: the premise asks, the voice answers |
| prompt_completion | prompt, completion | prompt-completion SFT: the chain -> its conclusion |
| preference | prompt, chosen, rejected | DPO minimal pairs from `flip` variants |

Every config keeps `id`, the id of the `trails` row its prompt (or text) comes from.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import pyarrow as pa

Row = dict[str, Any]


def _text(rows: Sequence[Row]) -> list[Row]:
    return [{"id": r["id"], "text": r["text"]} for r in rows]


def _messages(rows: Sequence[Row]) -> list[Row]:
    """The premise is the user's turn; the trail, in its role's voice, is the assistant's answer."""
    out = []
    for r in rows:
        premise = r["steps"][0]
        question = f"{premise['connective']} {premise['text']}. What follows, and why?"
        out.append({"id": r["id"], "messages": [{"role": "user", "content": question},
                                                {"role": "assistant", "content": r["text"]}]})
    return out


def _prompt_completion(rows: Sequence[Row]) -> list[Row]:
    return [{"id": r["id"], "prompt": r["prompt"], "completion": r["completion"]} for r in rows]


def _preference(rows: Sequence[Row]) -> list[Row]:
    """Minimal pairs from each `flip` variant and its parent, both ways round.

    Forward: the parent's chain, chosen = its completion, rejected = the flipped completion.
    Reverse: the flipped chain, chosen = the flipped completion, rejected = the parent's.
    The two completions differ only by the flip's conclusion edit.
    """
    by_id = {r["id"]: r for r in rows}
    out = []
    for r in rows:
        if not (r["mutation"] and r["mutation"]["op"] == "flip"):
            continue
        parent = by_id[r["parent_id"]]
        out.append({"id": parent["id"], "prompt": parent["prompt"],
                    "chosen": parent["completion"], "rejected": r["completion"]})
        out.append({"id": r["id"], "prompt": r["prompt"],
                    "chosen": r["completion"], "rejected": parent["completion"]})
    return out


def _trails(rows: Sequence[Row]) -> list[Row]:
    return list(rows)


def _schema(*columns: tuple[str, pa.DataType]) -> Callable[[Sequence[str]], pa.Schema]:
    return lambda labels: pa.schema([("id", pa.string()), *columns])


def trails_schema(labels: Sequence[str]) -> pa.Schema:
    """The `trails` row schema (DESIGN.md §4); per-tokenizer columns are structs keyed by label."""
    per_tokenizer = pa.struct([(label, pa.int32()) for label in labels])
    return pa.schema([
        ("id", pa.string()), ("family_id", pa.string()), ("parent_id", pa.string()),
        ("depth", pa.int32()), ("walk", pa.int32()), ("split", pa.string()),
        ("stage", pa.int32()), ("rarity", pa.float64()), ("grammar", pa.string()),
        ("domain", pa.string()), ("role", pa.string()), ("view", pa.string()),
        ("frame_id", pa.string()), ("template_id", pa.string()), ("text", pa.string()),
        ("steps", pa.list_(pa.struct([("kind", pa.string()), ("connective", pa.string()),
                                      ("text", pa.string())]))),
        ("prompt", pa.string()), ("completion", pa.string()), ("conclusion", pa.string()),
        ("label_flipped", pa.bool_()),
        ("mutation", pa.struct([("op", pa.string()), ("detail", pa.string())])),
        ("token_distance", per_tokenizer), ("base_token_distance", per_tokenizer),
        ("char_distance", pa.int32()), ("n_tokens", per_tokenizer),
    ])


#: config name -> (projection of a split's ordered trails rows, schema for the tokenizer labels)
CONFIGS: dict[str, tuple[Callable[[Sequence[Row]], list[Row]], Callable[[Sequence[str]], pa.Schema]]] = {
    "trails": (_trails, trails_schema),
    "text": (_text, _schema(("text", pa.string()))),
    "messages": (_messages, _schema(("messages", pa.list_(pa.struct(
        [("role", pa.string()), ("content", pa.string())]))))),
    "prompt_completion": (_prompt_completion, _schema(("prompt", pa.string()),
                                                      ("completion", pa.string()))),
    "preference": (_preference, _schema(("prompt", pa.string()), ("chosen", pa.string()),
                                        ("rejected", pa.string()))),
}
