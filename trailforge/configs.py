"""Dataset configs: projections of `trails` rows that trainers read without column mapping.

| config | columns (besides `id`) | for |
| --- | --- | --- |
| trails | the full row schema | analysis, custom training |
| text | text | language modelling (TRL SFT, `dataset_text_field="text"`) |
| messages | messages: [{role, content}] | conversational SFT: the user states every fact, the voice reasons |
| prompt_completion | prompt, completion | prompt-completion SFT: the chain -> its conclusion |
| preference | prompt, chosen, rejected | DPO: flip minimal pairs, and broken chains' wrong conclusions |
| preference_messages | prompt: [user], chosen: [assistant], rejected: [assistant] | conversational DPO: the same pairs, the whole chain in the user turn |
| negatives | text, conclusion, expected | broken chains a judging role rejects (valid false) |

Every config keeps `id`, the id of the `trails` row its prompt (or text) comes from, and that
row's `stage`, `family_id` and `depth`, so a trainer can keep (or rebuild) the curriculum. `text`,
`messages` and `prompt_completion` hold only valid rows: a broken chain's completion states a
conclusion that does not follow, which a model trained on completions would learn to say.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .errors import DatasetError
from .grammar import INFERRED_RELATIONS
from .registry import Registry
from .seeding import stable_hash

QUESTION = "What follows, and why?"
#: What the user asks after the chain in `preference_messages` (the answer is the conclusion).
CHAIN_QUESTION = "What follows?"
#: The columns every config carries: the source row and its place in the curriculum.
LINEAGE = ("id", "stage", "family_id", "depth")


def _valid(table: pa.Table, columns: Sequence[str]) -> pa.Table:
    """The valid rows' `columns` (selected first: filtering moves only what is kept)."""
    return table.select(columns).filter(table["valid"])


def _text(table: pa.Table) -> pa.Table:
    return _valid(table, [*LINEAGE, "text"])


def _negatives(table: pa.Table) -> pa.Table:
    """Broken chains (valid false): the whole trail, the conclusion it shows and the one that
    follows; the trail's role rejects the conclusion."""
    return table.filter(pc.invert(table["valid"])).select(
        [*LINEAGE, "text", "conclusion", "expected"]
    )


#: A clause's first word character: what comes before it is an anchor tag's marks ("[!] ").
_WORD = re.compile(r"\w")


def _sentence(clause: str) -> str:
    """The clause as a sentence: its first word capitalised ("[!] Solid salt ..." where an anchor
    tag comes first), a full stop after it."""
    first = _WORD.search(clause)
    lead = first.start() if first else 0
    return clause[:lead] + clause[lead : lead + 1].upper() + clause[lead + 1 :] + "."


def _said(step: dict) -> str:
    """A step as a sentence with its connective: "Suppose a rod is heated." """
    return _sentence(f"{step['connective']} {step['text']}" if step["connective"] else step["text"])


def chain_turn(steps: list[dict]) -> str:
    """The user's turn of `preference_messages`: every step before the conclusion, each with
    its connective, then the question; the same in every view and voice."""
    return " ".join([*(_said(s) for s in steps[:-1]), CHAIN_QUESTION])


def facts_turn(steps: list[dict]) -> str:
    """The user's turn: every fact the trail states (each step whose relation the chain does not
    infer: premises, complication, resolution, distractors), then the question. Nothing the
    assistant reasons with appears first in its own turn."""
    facts = [_sentence(s["text"]) for s in steps if s["relation"] not in INFERRED_RELATIONS]
    return " ".join(["Facts:", *facts, QUESTION])


def facts_turns(steps: pa.ChunkedArray) -> pa.Array:
    """`facts_turn` of every row's steps, by columns: each distinct clause becomes a sentence
    once, and Arrow joins each row's facts (rows share most of their clauses)."""
    return pa.chunked_array(
        [_facts_turns(chunk) for chunk in steps.chunks], pa.string()
    ).combine_chunks()


def _facts_turns(lists: pa.ListArray) -> pa.Array:
    start = lists.offsets[0].as_py()
    offsets = np.asarray(lists.offsets) - start
    flat = lists.values.slice(start, int(offsets[-1]))
    clauses = pc.dictionary_encode(flat.field("text"))
    sentences = pa.array([_sentence(c) for c in clauses.dictionary.to_pylist()], pa.string())
    is_fact = pc.invert(pc.is_in(flat.field("relation"), pa.array(sorted(INFERRED_RELATIONS))))
    kept = np.concatenate([[0], np.cumsum(np.asarray(is_fact, dtype=bool))])[offsets]
    facts = pa.ListArray.from_arrays(
        pa.array(kept, pa.int32()), pc.take(sentences, pc.filter(clauses.indices, is_fact))
    )
    return pc.if_else(
        pc.equal(pc.list_value_length(facts), 0),
        pa.scalar(f"Facts: {QUESTION}"),
        pc.binary_join_element_wise("Facts:", pc.binary_join(facts, " "), QUESTION, " "),
    )


def _messages(table: pa.Table) -> pa.Table:
    """The user states the facts and asks; the trail, in its role's voice, is the answer."""
    table = _valid(table, [*LINEAGE, "steps", "text"])
    n = table.num_rows
    question = facts_turns(table["steps"])
    turns = np.arange(2 * n)
    # the turns in order: user, assistant, user, ...
    content = pc.take(
        pa.concat_arrays([question, table["text"].combine_chunks()]),
        pa.array((turns % 2) * n + turns // 2),
    )
    role = pc.take(pa.array(["user", "assistant"]), pa.array(turns % 2))
    messages = pa.ListArray.from_arrays(
        pa.array(np.arange(0, 2 * n + 1, 2), pa.int32()),
        pa.StructArray.from_arrays([role, content], names=["role", "content"]),
    )
    return table.select(LINEAGE).append_column("messages", messages)


def _turns(role: str, contents: list[str]) -> pa.Array:
    """One single-message conversation per content: [{role, content}]."""
    message = pa.StructArray.from_arrays(
        [pa.array([role] * len(contents), pa.string()), pa.array(contents, pa.string())],
        names=["role", "content"],
    )
    return pa.ListArray.from_arrays(pa.array(range(len(contents) + 1), pa.int32()), message)


def _prompt_completion(table: pa.Table) -> pa.Table:
    return _valid(table, [*LINEAGE, "prompt", "completion"])


def _pairs(table: pa.Table) -> tuple[pa.Array, pa.Array, pa.Table]:
    """The minimal pairs of whole families: for each row whose label flips against its parent's
    (a meaning edit: `label_flipped` differs), both ways round, the row giving the prompt (and
    chosen) and the row giving rejected; and the broken base trails."""
    position = {row_id: i for i, row_id in enumerate(table["id"].to_pylist())}
    flipped = table["label_flipped"].to_pylist()
    first, second = [], []
    for row, parent_id in enumerate(table["parent_id"].to_pylist()):
        parent = position.get(parent_id) if parent_id is not None else None
        if parent is not None and flipped[row] != flipped[parent]:
            first += [parent, row]
            second += [row, parent]
    broken = table.filter(pc.and_(pc.invert(table["valid"]), pc.equal(table["depth"], 0)))
    return pa.array(first, pa.int64()), pa.array(second, pa.int64()), broken


def _preference(table: pa.Table) -> pa.Table:
    """Minimal pairs from each flipped row (`label_flipped` against its parent) and its parent,
    both ways round, then one pair per broken base trail.

    Forward: the parent's chain, chosen = its completion, rejected = the flipped completion.
    Reverse: the flipped chain, chosen = the flipped completion, rejected = the parent's.
    The two completions differ only by the flip's conclusion edit. `table` holds whole families.
    Broken: a broken chain's prompt, chosen = the conclusion that follows, rejected = the one
    the chain showed (each as " <connective> <conclusion>.", with the completion's space).
    """
    first, second, broken = _pairs(table)
    flipped = (
        table.select(LINEAGE)
        .take(first)
        .append_column("prompt", pc.take(table["prompt"], first))
        .append_column("chosen", pc.take(table["completion"], first))
        .append_column("rejected", pc.take(table["completion"], second))
    )
    lead = pa.array(
        [
            steps[-1]["connective"] if c[:1] != " " else " " + steps[-1]["connective"]
            for steps, c in zip(broken["steps"].to_pylist(), broken["completion"].to_pylist())
        ],
        pa.string(),
    )
    return pa.concat_tables(
        [
            flipped,
            broken.select(LINEAGE)
            .append_column("prompt", broken["prompt"])
            .append_column("chosen", _sentences(lead, broken["expected"]))
            .append_column("rejected", _sentences(lead, broken["conclusion"])),
        ]
    )


def _preference_messages(table: pa.Table) -> pa.Table:
    """The `preference` pairs as conversations: the user turn is the whole chain before its
    conclusion (`chain_turn`), chosen and rejected are assistant turns "<connective>
    <conclusion>." with the prompting chain's connective, so they differ only in the conclusion."""
    first, second, broken = _pairs(table)
    steps = pc.take(table["steps"], first).to_pylist() + broken["steps"].to_pylist()
    chosen = pc.take(table["conclusion"], first).to_pylist() + broken["expected"].to_pylist()
    rejected = pc.take(table["conclusion"], second).to_pylist() + broken["conclusion"].to_pylist()
    lineage = pa.concat_tables([table.select(LINEAGE).take(first), broken.select(LINEAGE)])
    return (
        lineage.append_column("prompt", _turns("user", [chain_turn(s) for s in steps]))
        .append_column(
            "chosen",
            _turns("assistant", [_said({**s[-1], "text": c}) for s, c in zip(steps, chosen)]),
        )
        .append_column(
            "rejected",
            _turns("assistant", [_said({**s[-1], "text": r}) for s, r in zip(steps, rejected)]),
        )
    )


def _sentences(leads: pa.Array, conclusions: pa.ChunkedArray) -> pa.Array:
    """'<lead> <conclusion>.' for each row (the lead: the space the completion starts with, if
    any, and the conclusion's connective)."""
    return pc.binary_join_element_wise(
        pc.binary_join_element_wise(leads, conclusions, " "), pa.scalar("."), ""
    )


def _trails(table: pa.Table) -> pa.Table:
    return table


def _schema(*columns: tuple[str, pa.DataType]) -> Callable[[Sequence[str]], pa.Schema]:
    """A training config's schema: the lineage columns, then `columns`."""
    lineage = [
        ("id", pa.string()),
        ("stage", pa.int32()),
        ("family_id", pa.string()),
        ("depth", pa.int32()),
    ]
    return lambda labels: pa.schema([*lineage, *columns])


CONVERSATION = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))


def trails_schema(labels: Sequence[str]) -> pa.Schema:
    """The `trails` row schema (README, "Configs"); per-tokenizer columns are structs keyed by
    label."""
    per_tokenizer = pa.struct([(label, pa.int32()) for label in labels])
    return pa.schema(
        [
            ("id", pa.string()),
            ("family_id", pa.string()),
            ("parent_id", pa.string()),
            ("depth", pa.int32()),
            ("walk", pa.int32()),
            ("split", pa.string()),
            ("stage", pa.int32()),
            ("rarity", pa.float64()),
            ("grammar", pa.string()),
            ("domain", pa.string()),
            ("role", pa.string()),
            ("view", pa.string()),
            ("frame_id", pa.string()),
            ("template_id", pa.string()),
            ("text", pa.string()),
            (
                "steps",
                pa.list_(
                    pa.struct(
                        [
                            ("kind", pa.string()),
                            ("relation", pa.string()),
                            ("connective", pa.string()),
                            ("text", pa.string()),
                            ("distractor", pa.bool_()),
                        ]
                    )
                ),
            ),
            ("prompt", pa.string()),
            ("completion", pa.string()),
            ("conclusion", pa.string()),
            ("valid", pa.bool_()),
            ("expected", pa.string()),
            ("logic", pa.string()),
            ("label_flipped", pa.bool_()),
            ("mutation", pa.struct([("op", pa.string()), ("detail", pa.string())])),
            ("token_distance", per_tokenizer),
            ("base_token_distance", per_tokenizer),
            ("char_distance", pa.int32()),
            ("n_tokens", per_tokenizer),
        ]
    )


@dataclass(frozen=True)
class Config:
    """A projection of a split's ordered `trails` table, and its schema for the tokenizer labels.

    A row-wise projection maps each trails row to one row, so it commutes with merging and is
    applied to the merged trails; the others need whole families and are projected per shard.
    """

    project: Callable[[pa.Table], pa.Table]
    schema: Callable[[Sequence[str]], pa.Schema]
    rowwise: bool
    columns: str  # what its columns hold (the card's config table)
    use: str  # what a trainer uses it for

    @property
    def description(self) -> str:
        return f"{self.use}: {self.columns}"


#: Config name -> its projection, schema and what it holds (a `registry.Registry`), in the order
#: the manifest, the card and the files list them.
CONFIGS: Registry[Config] = Registry(
    "config",
    {
        "trails": Config(
            _trails,
            trails_schema,
            rowwise=True,
            columns="every column: lineage, steps, mutation, token distances",
            use="analysis",
        ),
        "text": Config(
            _text,
            _schema(("text", pa.string())),
            rowwise=True,
            columns="`text`",
            use="language modelling",
        ),
        "messages": Config(
            _messages,
            _schema(("messages", CONVERSATION)),
            rowwise=True,
            columns="`messages` (user: every stated fact; assistant: the trail in its voice)",
            use="conversational SFT",
        ),
        "prompt_completion": Config(
            _prompt_completion,
            _schema(("prompt", pa.string()), ("completion", pa.string())),
            rowwise=True,
            columns="`prompt`, `completion` (the chain -> its conclusion)",
            use="prompt-completion SFT",
        ),
        "preference": Config(
            _preference,
            _schema(("prompt", pa.string()), ("chosen", pa.string()), ("rejected", pa.string())),
            rowwise=False,
            columns="`prompt`, `chosen`, `rejected` (flip minimal pairs; broken "
            "chains: the conclusion that follows vs the one shown)",
            use="DPO",
        ),
        "preference_messages": Config(
            _preference_messages,
            _schema(("prompt", CONVERSATION), ("chosen", CONVERSATION), ("rejected", CONVERSATION)),
            rowwise=False,
            columns='`prompt: [user]` (the whole chain, then "What follows?"), '
            "`chosen`, `rejected: [assistant]`",
            use="conversational DPO",
        ),
        "negatives": Config(
            _negatives,
            _schema(("text", pa.string()), ("conclusion", pa.string()), ("expected", pa.string())),
            rowwise=True,
            columns="`text`, `conclusion`, `expected` (broken chains a critic or skeptic rejects)",
            use="judgement training",
        ),
    },
    DatasetError,
)


def row_id(
    family_id: str,
    parent_id: str | None,
    op: str | None,
    detail: str | None,
    text: str,
    label_flipped: bool,
) -> str:
    """A row's id: a content hash of the fields that define it (stable across runs)."""
    return stable_hash("row", family_id, parent_id, op, detail, text, label_flipped)[:32]
