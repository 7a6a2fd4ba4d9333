"""The tokenizer protocol and what every backend shares: encodings, splices, labels,
fingerprints, and the whole-text fallback where local re-encoding is not proven."""

from __future__ import annotations

import hashlib
import re
from typing import Callable, NamedTuple, Protocol, Sequence

from ..distance import token_distance
from ..errors import TokenizerError


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
                raise TokenizerError(
                    "this tokenizer gives no token offsets",
                    hint="only tokenizers with `local` set splice encodings",
                )
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


def whole(tokenizer: Tokenizer, parent: Encoded, text: str) -> Splice:
    """The non-local fallback of `encode_edit`: encode the whole text; the splice's spans are the
    two whole id lists."""
    new = tokenizer.encode(text)
    return Splice(new, parent.ids, new.ids)


def measured(splice: Splice, cutoff: int) -> tuple[Encoded | None, int]:
    """A splice's encoding and the token distance of its spans (`cutoff + 1` when over it); no
    encoding (None) when the distance is 0 or over the cutoff."""
    distance = token_distance(splice.old, splice.new, cutoff=cutoff)
    return (splice.encoded if 0 < distance <= cutoff else None), distance


#: (parent text, parent encoding, text, cutoff) -> (text's encoding or None, token distance)
EditMeasure = Callable[[str, Encoded, str, int], tuple[Encoded | None, int]]


def edit_measure(tokenizer: Tokenizer) -> EditMeasure:
    """What the family engine measures of an edit with `tokenizer`: the text's encoding from its
    parent's and their token distance (`measured`), through the backend's own `measure_edit`
    where it has one (tiktoken: one compiled call), else its `encode_edit`."""
    own = getattr(tokenizer, "measure_edit", None)
    if own is not None:
        return own

    def by_splice(
        parent_text: str, parent: Encoded, text: str, cutoff: int
    ) -> tuple[Encoded | None, int]:
        return measured(tokenizer.encode_edit(parent_text, parent, text), cutoff)

    return by_splice


def label_of(text: str) -> str:
    label = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    return label if label and not label[0].isdigit() else f"tok_{label}"


def sha256_of(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()
