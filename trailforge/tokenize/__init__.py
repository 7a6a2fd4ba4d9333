"""Target tokenizers behind one small protocol, and a registry that resolves names to them.

A spec is one of:
  * a tiktoken encoding shipped offline by `bpe-openai` (`o200k_base`, `cl100k_base`, ...);
  * a path to a `tokenizer.json` file (byte-level BPE, SentencePiece-style BPE, WordPiece, ...);
  * a path to a local model directory (loaded with transformers' AutoTokenizer, offline);
  * `hf:<repo-id>` for a Hub tokenizer (needs network the first time);
optionally prefixed by `LABEL=` to choose the label used in dataset columns.
Encodings never add special tokens: distances are measured on the text alone.

The package: `base` (the protocol, encodings, the whole-text fallback), `local` (the safe-cut
window and splice, and which pipelines it is exact for), one module per backend, and here the
registry (`TOKENIZERS`: kind -> a `registry.Lazy` entry naming the backend class and the specs
it reads) and `resolve_kind`, which maps a spec to its kind.

Local re-encoding: BPE never merges across pre-tokenization boundaries, so after a small edit only
the pre-tokens around it change. `encode_edit` re-encodes just the window between two *safe cuts* (a
space with an ASCII letter on each side, where every supported pre-tokenizer splits and from where
its split depends on nothing before) and splices the window's ids into the parent's. The result is
exactly the full encoding (a property test checks it against `encode` for every tokenizer); where
locality is not proven for a tokenizer (`local` is False), `encode_edit` encodes the whole text.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Callable, Sequence

from ..errors import TokenizerError
from ..recipe import split_label
from ..registry import Lazy, Registry
from .base import EditMeasure, Encoded, Splice, Tokenizer, edit_measure
from .local import is_local_pipeline
from .tiktoken_backend import tiktoken_names

#: Backend kind -> its class (called with the resolved spec and `label=`), and the specs it reads
#: (the CLI's --tokenizer help lists them).
TOKENIZERS: Registry[Lazy[Callable[..., Tokenizer]]] = Registry(
    "tokenizer backend",
    {
        "tiktoken": Lazy(
            f"{__name__}.tiktoken_backend:TiktokenTokenizer",
            "an offline encoding (o200k_base, cl100k_base, ...)",
        ),
        "tokenizer_json": Lazy(f"{__name__}.json_backend:JsonTokenizer", "a tokenizer.json path"),
        "transformers": Lazy(
            f"{__name__}.transformers_backend:TransformersTokenizer",
            "a local model folder or hf:<repo-id>",
        ),
    },
    TokenizerError,
)


def resolve_kind(spec: str, base_dir: Path | None = None) -> tuple[str, str]:
    """Which registry entry loads `spec`, and the resolved spec (paths made absolute)."""
    if spec.startswith("hf:"):
        if not spec[3:]:
            raise TokenizerError("empty Hub repo id", hint="write hf:<org>/<name>")
        return "transformers", spec
    if spec in tiktoken_names():
        return "tiktoken", spec
    from bpe_openai import registry

    if spec in registry.ENCODING_CONSTRUCTORS:  # gpt2, r50k_base, p50k_base: rank files online
        raise TokenizerError(
            f"tiktoken encoding {spec!r} ships no rank file: loading it needs the network",
            hint=f"offline encodings: "
            f"{', '.join(tiktoken_names())}; or give its tokenizer.json path",
        )
    path = Path(os.path.expanduser(spec))
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    if path.is_file():
        return "tokenizer_json", str(path)
    if path.is_dir():
        return "transformers", str(path)
    raise TokenizerError(
        f"unknown tokenizer {spec!r}",
        hint=f"use an offline encoding ({', '.join(tiktoken_names())}), a tokenizer.json path, "
        "a local model folder, or hf:<repo-id>",
    )


@lru_cache(maxsize=32)
def _load_cached(kind: str, resolved: str, label: str | None) -> Tokenizer:
    return TOKENIZERS.lookup(kind).load()(resolved, label=label)


def load_tokenizer(spec: str, base_dir: Path | None = None) -> Tokenizer:
    """Load (once per process) the tokenizer a spec names."""
    label, bare = split_label(spec)
    kind, resolved = resolve_kind(bare, base_dir)
    return _load_cached(kind, resolved, label)


def load_tokenizers(specs: Sequence[str], base_dir: Path | None = None) -> list[Tokenizer]:
    """Load every target tokenizer; labels must be distinct (they become column keys)."""
    loaded = [load_tokenizer(s, base_dir) for s in specs]
    labels = [t.label for t in loaded]
    dupes = sorted({x for x in labels if labels.count(x) > 1})
    if dupes:
        raise TokenizerError(
            f"two tokenizers share the label {dupes[0]!r}",
            hint="name them: --tokenizer mine=path/to/tokenizer.json",
        )
    return loaded


__all__ = [
    "EditMeasure",
    "Encoded",
    "Splice",
    "Tokenizer",
    "TOKENIZERS",
    "edit_measure",
    "is_local_pipeline",
    "load_tokenizer",
    "load_tokenizers",
    "resolve_kind",
    "tiktoken_names",
]
