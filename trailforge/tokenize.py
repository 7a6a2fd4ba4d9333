"""Target tokenizers behind one small protocol, and a registry that resolves names to them.

A spec is one of:
  * a tiktoken encoding shipped offline by `bpe-openai` (`o200k_base`, `cl100k_base`, ...);
  * a path to a `tokenizer.json` file (byte-level BPE, SentencePiece-style BPE, WordPiece, ...);
  * a path to a local model directory (loaded with transformers' AutoTokenizer, offline);
  * `hf:<repo-id>` for a Hub tokenizer (needs network the first time);
optionally prefixed by `LABEL=` to choose the label used in dataset columns.
Encodings never add special tokens: distances are measured on the text alone.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Callable, Protocol, Sequence

from .errors import TokenizerError


class Tokenizer(Protocol):
    """What the factory needs from a target tokenizer."""

    name: str  # the spec it was loaded from
    label: str  # identifier used as a column key
    fingerprint: str  # sha256 over the vocabulary, merges and pre-tokenization
    vocab_size: int

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]: ...

    def decode(self, ids: Sequence[int]) -> str: ...


def _label(text: str) -> str:
    label = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    return label if label and not label[0].isdigit() else f"tok_{label}"


def _sha256(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()


class TiktokenTokenizer:
    """An OpenAI encoding, built from the rank files the `bpe-openai` package ships."""

    def __init__(self, name: str, label: str | None = None) -> None:
        import tiktoken
        from bpe_openai import registry

        constructor = registry.ENCODING_CONSTRUCTORS.get(name)
        if constructor is None:
            raise TokenizerError(f"unknown tiktoken encoding {name!r}",
                                 hint=f"offline encodings: {', '.join(tiktoken_names())}")
        kwargs = constructor()
        self._encoding = tiktoken.Encoding(**kwargs)
        self.name = name
        self.label = label or _label(name)
        self.vocab_size = self._encoding.n_vocab
        ranks = kwargs["mergeable_ranks"]
        self.fingerprint = _sha256(
            "tiktoken", kwargs["pat_str"],
            json.dumps(sorted(kwargs.get("special_tokens", {}).items())),
            hashlib.sha256(b"".join(k + b"\xff" + str(v).encode() for k, v in
                                    sorted(ranks.items(), key=lambda kv: kv[1]))).hexdigest(),
        )

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        encode = self._encoding.encode_ordinary  # a loop beats the threaded batch on short texts
        return [encode(t) for t in texts]

    def decode(self, ids: Sequence[int]) -> str:
        return self._encoding.decode(list(ids))


class JsonTokenizer:
    """Any `tokenizer.json` (Hugging Face tokenizers), without padding or truncation."""

    def __init__(self, path: str, label: str | None = None) -> None:
        from tokenizers import Tokenizer as HFTokenizer

        file = Path(path)
        try:
            tok = HFTokenizer.from_file(str(file))
        except Exception as exc:  # tokenizers raises a bare Exception on bad files
            raise TokenizerError(f"cannot load tokenizer file: {exc}", file=file,
                                 hint="give a tokenizer.json saved by Hugging Face tokenizers") from None
        tok.no_padding()
        tok.no_truncation()
        self._tok = tok
        self.name = str(path)
        stem = file.stem if file.stem != "tokenizer" else file.resolve().parent.name
        self.label = label or _label(stem)
        self.vocab_size = tok.get_vocab_size(with_added_tokens=True)
        self.fingerprint = _sha256("tokenizers", tok.to_str())

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        return [e.ids for e in self._tok.encode_batch(list(texts), add_special_tokens=False)]

    def decode(self, ids: Sequence[int]) -> str:
        return self._tok.decode(list(ids), skip_special_tokens=False)


class TransformersTokenizer:
    """A tokenizer through transformers' AutoTokenizer: a local model folder, or `hf:<repo-id>`."""

    def __init__(self, spec: str, label: str | None = None) -> None:
        from transformers import AutoTokenizer
        source = spec[3:] if spec.startswith("hf:") else spec
        offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")
        local = not spec.startswith("hf:") or offline
        try:
            tok = AutoTokenizer.from_pretrained(source, local_files_only=local)
        except Exception as exc:  # transformers raises many types (OSError, ValueError, ...)
            where = "Hub repository" if spec.startswith("hf:") else "folder"
            hint = ("the folder needs tokenizer.json or the files of a slow tokenizer"
                    if where == "folder" else "check the repo id and your network (HF_HUB_OFFLINE "
                    "allows only cached repos); offline, pass a local tokenizer.json or a "
                    "downloaded model folder instead")
            raise TokenizerError(f"cannot load tokenizer from {where} {source!r}: "
                                 f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
                                 hint=hint) from None
        self._tok = tok
        self.name = spec
        self.label = label or _label(source.rstrip("/").split("/")[-1])
        self.vocab_size = len(tok)
        backend = getattr(tok, "backend_tokenizer", None)
        body = backend.to_str() if backend is not None else json.dumps(sorted(tok.get_vocab().items()))
        self.fingerprint = _sha256("transformers", body)

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        return list(self._tok(list(texts), add_special_tokens=False)["input_ids"])

    def decode(self, ids: Sequence[int]) -> str:
        return self._tok.decode(list(ids))


#: Tokenizer classes by kind; `resolve_kind` picks one for a spec.
TOKENIZERS: dict[str, Callable[..., Tokenizer]] = {
    "tiktoken": TiktokenTokenizer,
    "tokenizer_json": JsonTokenizer,
    "transformers": TransformersTokenizer,
}


def tiktoken_names() -> list[str]:
    from bpe_openai import registry

    return sorted(registry.ENCODING_CONSTRUCTORS)


def split_label(spec: str) -> tuple[str | None, str]:
    """`LABEL=SPEC` -> (LABEL, SPEC); a plain spec -> (None, SPEC)."""
    head, sep, tail = spec.partition("=")
    if sep and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", head):
        return head, tail
    return None, spec


def resolve_kind(spec: str, base_dir: Path | None = None) -> tuple[str, str]:
    """Which registry entry loads `spec`, and the resolved spec (paths made absolute)."""
    if spec.startswith("hf:"):
        if not spec[3:]:
            raise TokenizerError("empty Hub repo id", hint="write hf:<org>/<name>")
        return "transformers", spec
    if spec in tiktoken_names():
        return "tiktoken", spec
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
    return TOKENIZERS[kind](resolved, label=label)


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
        raise TokenizerError(f"two tokenizers share the label {dupes[0]!r}",
                             hint="name them: --tokenizer mine=path/to/tokenizer.json")
    return loaded
