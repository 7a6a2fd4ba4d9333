"""Target tokenizers behind one small protocol, and a registry that resolves names to them.

A spec is one of:
  * a tiktoken encoding shipped offline by `bpe-openai` (`o200k_base`, `cl100k_base`, ...);
  * a path to a `tokenizer.json` file (byte-level BPE, SentencePiece-style BPE, WordPiece, ...);
  * a path to a local model directory (loaded with transformers' AutoTokenizer, offline);
  * `hf:<repo-id>` for a Hub tokenizer (needs network the first time);
optionally prefixed by `LABEL=` to choose the label used in dataset columns.
Encodings never add special tokens: distances are measured on the text alone.

Local re-encoding: BPE never merges across pre-tokenization boundaries, so after a small edit only
the pre-tokens around it change. `encode_edit` re-encodes just the window between two *safe cuts* (a
space with an ASCII letter on each side, where every supported pre-tokenizer splits and from where
its split depends on nothing before) and splices the window's ids into the parent's. The result is
exactly the full encoding (a property test checks it against `encode` for every tokenizer); where
locality is not proven for a tokenizer (`local` is False), `encode_edit` encodes the whole text.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from bisect import bisect_left
from functools import lru_cache
from itertools import accumulate
from pathlib import Path
from typing import Any, Callable, NamedTuple, Protocol, Sequence

from .errors import TokenizerError
from .recipe import split_label
from .settings import hub_offline


class Encoded:
    """A text's ids under one tokenizer, and where each token starts (in the tokenizer's offset
    unit: UTF-8 bytes for tiktoken, characters for `tokenizers`), worked out when first needed."""

    __slots__ = ("ids", "_starts", "_derive")

    def __init__(self, ids: list[int], starts: Callable[[], list[int]] | None) -> None:
        self.ids = ids
        self._starts: list[int] | None = None
        self._derive = starts  # None: this tokenizer gives no offsets (it never splices)

    @property
    def starts(self) -> list[int]:
        if self._starts is None:
            if self._derive is None:
                raise TokenizerError("this tokenizer gives no token offsets",
                                     hint="only tokenizers with `local` set splice encodings")
            self._starts, self._derive = self._derive(), None
        return self._starts


class Splice(NamedTuple):
    """A variant's encoding, and the spans of ids where it differs from its parent's (the token
    edit distance between the two spans equals the distance between the whole id lists)."""

    encoded: Encoded
    old: list[int]
    new: list[int]


class Tokenizer(Protocol):
    """What the factory needs from a target tokenizer."""

    name: str  # the spec it was loaded from
    label: str  # identifier used as a column key
    fingerprint: str  # sha256 over the vocabulary, merges and pre-tokenization
    vocab_size: int
    local: bool  # whether `encode_edit` re-encodes only a window (else the whole text)

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]: ...

    def encode(self, text: str) -> Encoded: ...

    def encode_edit(self, parent_text: str, parent: Encoded, text: str) -> Splice: ...

    def decode(self, ids: Sequence[int]) -> str: ...


_ASCII_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_LETTER_CHARS = frozenset(_ASCII_LETTERS)
_LETTER_BYTES = frozenset(_ASCII_LETTERS.encode())


def _common_prefix(a: Any, b: Any) -> int:
    """Length of the longest common prefix of two str (or two bytes): the XOR of the two read as
    big-endian integers has its highest set bit in the first differing byte."""
    if isinstance(a, str):  # fixed width: four bytes a character
        return _common_prefix(a.encode("utf-32-be"), b.encode("utf-32-be")) // 4
    n = min(len(a), len(b))
    diff = int.from_bytes(a[:n], "big") ^ int.from_bytes(b[:n], "big")
    return n - (diff.bit_length() + 7) // 8


def _common_suffix(a: Any, b: Any, limit: int) -> int:
    """Length of the longest common suffix, at most `limit` (as above, read little-endian)."""
    if isinstance(a, str):
        return _common_suffix(a.encode("utf-32-be"), b.encode("utf-32-be"), 4 * limit) // 4
    diff = int.from_bytes(a[len(a) - limit:], "little") ^ int.from_bytes(b[len(b) - limit:], "little")
    return limit - (diff.bit_length() + 7) // 8


def _is_cut(text: Any, i: int, space: Any, letters: frozenset) -> bool:
    return text[i] == space and text[i - 1] in letters and text[i + 1] in letters


def _cut_before(text: Any, end: int, space: Any, letters: frozenset) -> int:
    """The last safe cut `s` with text[s-1 : s+2] inside text[:end] (0 if none)."""
    s = text.rfind(space, 1, max(end - 1, 0))
    while s > 0 and not _is_cut(text, s, space, letters):
        s = text.rfind(space, 1, s)
    return max(s, 0)


def _cut_after(text: Any, start: int, space: Any, letters: frozenset) -> int:
    """The first safe cut `e` with text[e-1 : e+2] inside text[start:] (len(text) if none)."""
    e = text.find(space, start + 1, len(text) - 1)
    while e != -1 and not _is_cut(text, e, space, letters):
        e = text.find(space, e + 1, len(text) - 1)
    return len(text) if e == -1 else e


@lru_cache(maxsize=8)  # every target tokenizer measures the same (parent, variant) pair
def edit_window(old: Any, new: Any) -> tuple[int, int, int]:
    """(start, end in `new`, length change): the window of `new` to re-encode after an edit of
    `old`, in str or bytes units. It runs from the last safe cut before the first difference to the
    first safe cut after the last one."""
    space, letters = (" ", _LETTER_CHARS) if isinstance(old, str) else (32, _LETTER_BYTES)
    prefix = _common_prefix(old, new)
    suffix = _common_suffix(old, new, min(len(old), len(new)) - prefix)
    return (_cut_before(old, prefix, space, letters),
            _cut_after(new, len(new) - suffix, space, letters), len(new) - len(old))


@lru_cache(maxsize=8)
def _utf8(text: str) -> bytes:
    return text.encode("utf-8")


def splice(old: Any, parent: Encoded, new: Any,
           encode_window: Callable[[Any], tuple[list[int], Callable[[], list[int]]]]) -> Splice:
    """`new`'s encoding from `parent` (the encoding of `old`) by re-encoding one window.

    `old` and `new` are in the tokenizer's offset unit (str or bytes). Before a safe cut the split
    depends only on the text up to the cut's space; from it, only on what follows; inside the
    window nothing reads past the window's ends. So prefix and suffix ids are the parent's.
    """
    s, e_new, shift = edit_window(old, new)
    window_ids, window_starts = encode_window(new[s:e_new])
    starts = parent.starts
    i, j = bisect_left(starts, s), bisect_left(starts, e_new - shift)
    ids = parent.ids[:i] + window_ids + parent.ids[j:]

    def child_starts() -> list[int]:
        return starts[:i] + [s + x for x in window_starts()] + [x + shift for x in starts[j:]]

    return Splice(Encoded(ids, child_starts), parent.ids[i:j], window_ids)


def _label(text: str) -> str:
    label = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    return label if label and not label[0].isdigit() else f"tok_{label}"


def _sha256(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()


#: tiktoken encodings whose split pattern is known to split at every safe cut and to read no
#: further than the cut's space before it: no look-behind, letter runs stop at a space, and every
#: other alternative stops at a letter (checked against full encoding by the property tests).
LOCAL_TIKTOKEN = frozenset({"cl100k_base", "o200k_base", "voyage3_base"})

#: `tokenizer.json` components under which a safe cut stays local: per-character (or
#: starter-bounded) normalizers, pre-tokenizers that split at spaces, per-word models.
LOCAL_NORMALIZERS = frozenset({"BertNormalizer", "Lowercase", "NFC", "NFD", "NFKC", "NFKD",
                               "StripAccents"})
LOCAL_PRE_TOKENIZERS = frozenset({"BertPreTokenizer", "Whitespace", "WhitespaceSplit",
                                  "Punctuation", "Digits", "ByteLevel"})
LOCAL_MODELS = frozenset({"BPE", "WordPiece", "WordLevel", "Unigram"})


def _all_local(component: dict | None, allowed: frozenset, children: str) -> bool:
    if component is None:
        return True
    if component.get("type") == "Sequence":
        return all(_all_local(c, allowed, children) for c in component.get(children, []))
    if component.get("type") == "ByteLevel" and not component.get("use_regex", True):
        return False  # without its split regex, byte-level BPE merges across spaces
    return component.get("type") in allowed


def is_local_pipeline(config: dict) -> bool:
    """Whether local re-encoding is exact for a `tokenizer.json` (else the whole text is encoded):
    every component is known to be local, BPE has no dropout, and no added token can span or strip
    a cut's space."""
    model = config.get("model") or {}
    added = config.get("added_tokens") or []
    return (_all_local(config.get("normalizer"), LOCAL_NORMALIZERS, "normalizers")
            and _all_local(config.get("pre_tokenizer"), LOCAL_PRE_TOKENIZERS, "pretokenizers")
            and model.get("type") in LOCAL_MODELS and not model.get("dropout")
            and all(not t.get("lstrip") and not t.get("rstrip")
                    and not any(c.isspace() for c in t.get("content", " ")) for t in added))


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
        self.local = name in LOCAL_TIKTOKEN
        self._lengths = [0] * (max(ranks.values()) + 1)  # token id -> byte length
        for token, rank in ranks.items():
            self._lengths[rank] = len(token)
        self.fingerprint = _sha256(
            "tiktoken", kwargs["pat_str"],
            json.dumps(sorted(kwargs.get("special_tokens", {}).items())),
            hashlib.sha256(b"".join(k + b"\xff" + str(v).encode() for k, v in
                                    sorted(ranks.items(), key=lambda kv: kv[1]))).hexdigest(),
        )

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        encode = self._encoding.encode_ordinary  # a loop beats the threaded batch on short texts
        return [encode(t) for t in texts]

    def _byte_starts(self, ids: list[int]) -> list[int]:
        return [0, *accumulate(map(self._lengths.__getitem__, ids[:-1]))] if ids else []

    def _encode_window(self, window: bytes) -> tuple[list[int], Callable[[], list[int]]]:
        ids = self._encoding.encode_ordinary(window.decode("utf-8"))  # cuts are ASCII: valid UTF-8
        return ids, lambda: self._byte_starts(ids)

    def encode(self, text: str) -> Encoded:
        return Encoded(*self._encode_window(text.encode("utf-8")))

    def encode_edit(self, parent_text: str, parent: Encoded, text: str) -> Splice:
        if not self.local:
            new = self.encode(text)
            return Splice(new, parent.ids, new.ids)
        return splice(_utf8(parent_text), parent, _utf8(text), self._encode_window)

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
        self.local = is_local_pipeline(json.loads(tok.to_str()))

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        return [e.ids for e in self._tok.encode_batch(list(texts), add_special_tokens=False)]

    def _encode_window(self, text: str) -> tuple[list[int], Callable[[], list[int]]]:
        encoding = self._tok.encode(text, add_special_tokens=False)
        return encoding.ids, lambda: [start for start, _ in encoding.offsets]

    def encode(self, text: str) -> Encoded:
        return Encoded(*self._encode_window(text))

    def encode_edit(self, parent_text: str, parent: Encoded, text: str) -> Splice:
        if not self.local:
            new = self.encode(text)
            return Splice(new, parent.ids, new.ids)
        return splice(parent_text, parent, text, self._encode_window)

    def decode(self, ids: Sequence[int]) -> str:
        return self._tok.decode(list(ids), skip_special_tokens=False)


class TransformersTokenizer:
    """A tokenizer through transformers' AutoTokenizer: a local model folder, or `hf:<repo-id>`."""

    def __init__(self, spec: str, label: str | None = None) -> None:
        from transformers import AutoTokenizer
        source = spec[3:] if spec.startswith("hf:") else spec
        local = not spec.startswith("hf:") or hub_offline()
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
        self.local = False  # slow tokenizers and custom code: locality is not proven

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        return list(self._tok(list(texts), add_special_tokens=False)["input_ids"])

    def encode(self, text: str) -> Encoded:
        return Encoded(self.encode_batch([text])[0], None)

    def encode_edit(self, parent_text: str, parent: Encoded, text: str) -> Splice:
        new = self.encode(text)
        return Splice(new, parent.ids, new.ids)

    def decode(self, ids: Sequence[int]) -> str:
        return str(self._tok.decode(list(ids)))


#: Tokenizer classes by kind; `resolve_kind` picks one for a spec.
TOKENIZERS: dict[str, Callable[..., Tokenizer]] = {
    "tiktoken": TiktokenTokenizer,
    "tokenizer_json": JsonTokenizer,
    "transformers": TransformersTokenizer,
}


def tiktoken_names() -> list[str]:
    """The tiktoken encodings that load offline: `bpe-openai` ships their rank files."""
    return sorted(LOCAL_TIKTOKEN)


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
        raise TokenizerError(f"tiktoken encoding {spec!r} ships no rank file: loading it needs "
                             "the network", hint=f"offline encodings: "
                             f"{', '.join(tiktoken_names())}; or give its tokenizer.json path")
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
