"""Local re-encoding: a variant's ids spliced from its parent's must equal full re-encoding, for
every tokenizer, on arbitrary texts and edits (including chains of edits, which splice from a
spliced encoding), and the distance over the changed spans must equal the whole-list distance."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trailforge.distance import token_distance
from trailforge.errors import TokenizerError
from trailforge.tokenize import is_local_pipeline, load_tokenizer

from .tokenizer_files import byte_level_bpe, sentencepiece_bpe

TIKTOKEN = ["o200k_base", "cl100k_base", "voyage3_base"]

# Pieces that stress pre-tokenizers: contractions, digit runs, runs of spaces and newlines,
# punctuation, case changes, accents (precomposed and combining), ligatures, CJK, emoji.
FRAGMENTS = [
    "the",
    "rod",
    "Rod",
    "ROD",
    "expands",
    " ",
    "  ",
    "\n",
    "\n\n",
    "\t",
    "'s",
    "'re",
    "don't",
    "1",
    "23",
    "4567",
    ",",
    ".",
    "...",
    "—",
    "-",
    "(",
    ")",
    "é",
    "e\u0301",
    "ﬁ",
    "İ",
    "中文",
    "🙂",
    "x",
    "a",
    "I",
    "IS",
    "the rod",
    " rod",
    "rod ",
]
texts = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=3), max_size=40).map("".join)
edits = st.tuples(st.integers(0, 10_000), st.integers(0, 4), texts.map(lambda t: t[:12]))


def apply(text: str, edit: tuple[int, int, str]) -> str:
    start, length, insert = edit
    start %= len(text) + 1
    return text[:start] + insert + text[start + length :]


@pytest.fixture(scope="module")
def tokenizers(tmp_path_factory, wordpiece_path):
    folder: Path = tmp_path_factory.mktemp("tokenizers")
    return [load_tokenizer(name) for name in TIKTOKEN] + [
        load_tokenizer(str(wordpiece_path)),
        load_tokenizer(str(byte_level_bpe(folder / "bytelevel.json", 500))),
        load_tokenizer(str(sentencepiece_bpe(folder / "sentencepiece.json", 400))),
    ]


def test_locality_is_claimed_only_where_proven(tokenizers):
    local = {tok.label: tok.local for tok in tokenizers}
    assert local == {
        "o200k_base": True,
        "cl100k_base": True,
        "voyage3_base": True,
        "model": True,
        "bytelevel": True,
        "sentencepiece": False,
    }


@given(text=texts, first=edits, second=edits)
def test_spliced_encoding_equals_full_encoding(tokenizers, text, first, second):
    child = apply(text, first)
    grandchild = apply(child, second)
    for tok in tokenizers:
        parent = tok.encode(text)
        splice = tok.encode_edit(text, parent, child)
        full = tok.encode(child)
        assert splice.encoded.ids == full.ids, tok.label
        assert token_distance(splice.old, splice.new) == token_distance(parent.ids, full.ids)
        again = tok.encode_edit(child, splice.encoded, grandchild)  # splices from a splice
        assert again.encoded.ids == tok.encode(grandchild).ids, tok.label
        if tok.local:
            assert splice.encoded.starts == full.starts, tok.label


def test_one_word_edit_reencodes_a_small_window(tokenizers):
    text = " ".join(["Suppose the steel rod is heated evenly along its whole length."] * 20)
    child = text.replace("evenly", "slowly", 1)
    for tok in tokenizers:
        splice = tok.encode_edit(text, tok.encode(text), child)
        size = len(splice.new)
        assert size <= 6 if tok.local else size == len(tok.encode(child).ids), tok.label


def _config(**changes) -> dict:
    config = {
        "normalizer": {"type": "BertNormalizer", "lowercase": True},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "model": {"type": "WordPiece"},
        "added_tokens": [{"content": "[CLS]", "lstrip": False, "rstrip": False}],
    }
    config.update(changes)
    return config


@pytest.mark.parametrize(
    "changes, local",
    [
        ({}, True),
        ({"normalizer": None}, True),
        (
            {
                "pre_tokenizer": {
                    "type": "Sequence",
                    "pretokenizers": [{"type": "Whitespace"}, {"type": "Digits"}],
                }
            },
            True,
        ),
        ({"pre_tokenizer": {"type": "Metaspace"}}, False),
        ({"pre_tokenizer": {"type": "ByteLevel", "use_regex": False}}, False),
        (
            {
                "normalizer": {
                    "type": "Sequence",
                    "normalizers": [{"type": "NFC"}, {"type": "Replace"}],
                }
            },
            False,
        ),
        ({"normalizer": {"type": "Strip"}}, False),
        ({"model": {"type": "BPE", "dropout": 0.1}}, False),
        ({"added_tokens": [{"content": "<mask>", "lstrip": True, "rstrip": False}]}, False),
        ({"added_tokens": [{"content": "new line", "lstrip": False, "rstrip": False}]}, False),
    ],
)
def test_pipelines_with_unproven_locality_fall_back(changes, local):
    assert is_local_pipeline(json.loads(json.dumps(_config(**changes)))) is local


def test_tokenizers_without_locality_encode_whole_texts(wordpiece_path):
    folder = load_tokenizer(str(wordpiece_path.parent))  # through transformers: never local
    text = "Suppose the steel rod is heated evenly."
    parent = folder.encode(text)
    splice = folder.encode_edit(text, parent, text.replace("evenly", "slowly"))
    assert (
        not folder.local
        and splice.new == folder.encode_batch([text.replace("evenly", "slowly")])[0]
    )
    with pytest.raises(TokenizerError, match="no token offsets"):
        parent.starts
