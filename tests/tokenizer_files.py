"""Small tokenizer.json files trained here, offline, in milliseconds: users' tokenizers in tests."""

from __future__ import annotations

from pathlib import Path

from tokenizers import (
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    trainers,
)

from .conftest import MINI

CORPUS = [
    line
    for path in (MINI / "content" / "domains").glob("*.yaml")
    for line in path.read_text().splitlines()
] * 3


def byte_level_bpe(path: Path, vocab: int, special_tokens: tuple[str, ...] = ()) -> Path:
    """GPT-2 style: byte-level pre-tokenizer with its split regex, BPE."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(
        CORPUS,
        trainers.BpeTrainer(
            vocab_size=vocab,
            special_tokens=list(special_tokens),
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        ),
    )
    tok.save(str(path))
    return path


def sentencepiece_bpe(path: Path, vocab: int) -> Path:
    """Llama-2 / Mistral style: spaces become `▁` in a normalizer, BPE with byte fallback."""
    tok = Tokenizer(models.BPE(byte_fallback=True, unk_token="<unk>"))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(
        replacement="▁", prepend_scheme="first", split=False
    )
    tok.decoder = decoders.Sequence(
        [
            decoders.Replace("▁", " "),
            decoders.ByteFallback(),
            decoders.Fuse(),
            decoders.Strip(" ", 1, 0),
        ]
    )
    byte_tokens = [f"<0x{i:02X}>" for i in range(256)]
    tok.train_from_iterator(
        CORPUS,
        trainers.BpeTrainer(
            vocab_size=vocab, special_tokens=["<unk>", *byte_tokens], show_progress=False
        ),
    )
    tok.save(str(path))
    return path
