"""Local re-encoding: after a small edit only the pre-tokens around it change, so `splice`
re-encodes the window between two safe cuts and keeps the parent's ids around it; and the
whitelists of `tokenizer.json` components under which that is exact."""

from __future__ import annotations

import os
import warnings
from bisect import bisect_left
from functools import lru_cache
from itertools import accumulate
from typing import Any, Callable

from ..distance import token_distance
from .base import Encoded, Splice

try:  # the compiled inner loop (trailforge/tokenize/_splice.c), built by `pip install` where gcc is
    from . import _splice as _compiled_module
except ImportError:  # no C compiler at install time: the same results, more slowly
    _compiled_module = None  # type: ignore[assignment]
    warnings.warn(
        "trailforge: the compiled splice loop is not built, so builds use the pure-Python path "
        "(same bytes, slower); install a C compiler (e.g. apt-get install gcc) and run "
        "pip install -e . again",
        RuntimeWarning,
        stacklevel=2,
    )

#: Whether splices of bytes run compiled. TRAILFORGE_PURE_PYTHON=1 selects the reference Python
#: path, which gives the same bytes (tests build both ways).
COMPILED = _compiled_module is not None and os.environ.get("TRAILFORGE_PURE_PYTHON") != "1"
_compiled = _compiled_module if COMPILED else None

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
    diff = int.from_bytes(a[len(a) - limit :], "little") ^ int.from_bytes(
        b[len(b) - limit :], "little"
    )
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
    return (
        _cut_before(old, prefix, space, letters),
        _cut_after(new, len(new) - suffix, space, letters),
        len(new) - len(old),
    )


@lru_cache(maxsize=8)
def utf8(text: str) -> bytes:
    return text.encode("utf-8")


Window = Callable[[Any], tuple[list[int], Callable[[], list[int]]]]


#: Window encodings each tokenizer keeps: many windows repeat across a family's proposals and
#: across families (the same connective or filler edit at the same place in similar chains).
WINDOW_CACHE = 1 << 15


def window_cache(encode_window: Window, size: int = WINDOW_CACHE) -> Window:
    """`encode_window` with its last `size` results kept (a window's encoding never changes)."""
    return lru_cache(maxsize=size)(encode_window)


def reference_splice(old: Any, parent: Encoded, new: Any, encode_window: Window) -> Splice:
    """`new`'s encoding from `parent` (the encoding of `old`) by re-encoding one window.

    `old` and `new` are in the tokenizer's offset unit (str or bytes). Before a safe cut the split
    depends only on the text up to the cut's space; from it, only on what follows; inside the
    window nothing reads past the window's ends. So prefix and suffix ids are the parent's.
    `encode_window` gives a window's ids and a callable for their starts.
    """
    s, e_new, shift = edit_window(old, new)
    window_ids, window_starts = encode_window(new[s:e_new])
    starts = parent.starts
    i, j = bisect_left(starts, s), bisect_left(starts, e_new - shift)
    ids = parent.ids[:i] + window_ids + parent.ids[j:]
    return Splice(
        Encoded(ids, _child_starts(starts, i, j, s, shift, window_starts)),
        parent.ids[i:j],
        window_ids,
    )


def _child_starts(
    starts: list[int], i: int, j: int, s: int, shift: int, window: Callable[[], list[int]]
) -> Callable[[], list[int]]:
    return lambda: starts[:i] + [s + x for x in window()] + [x + shift for x in starts[j:]]


def splice(
    old: Any,
    parent: Encoded,
    new: Any,
    encode_window: Window,
    starts_of: Callable[[list[int]], list[int]] | None = None,
) -> Splice:
    """`reference_splice`, through the compiled loop for bytes where it is built (`COMPILED`).
    `starts_of(ids)` (the backend's compiled token starts, if it has one) gives the variant's
    starts when they are needed, from its ids alone: the same list, in one C call."""
    if _compiled is None or not isinstance(old, bytes):
        return reference_splice(old, parent, new, encode_window)
    starts = parent.starts
    ids, old_ids, window_ids, window_starts, s, i, j, shift = _compiled.splice_bytes(
        old, new, parent.ids, starts, encode_window
    )
    child = (
        _child_starts(starts, i, j, s, shift, window_starts)
        if starts_of is None
        else lambda: starts_of(ids)
    )
    return Splice(Encoded(ids, child), old_ids, window_ids)


def reference_measure(
    old: Any, parent: Encoded, new: Any, encode_window: Window, cutoff: int
) -> tuple[Encoded | None, int]:
    """`new`'s encoding and its token edit distance to `parent` (`cutoff + 1` when over it); no
    encoding (None) when the distance is 0 or over the cutoff, since no such variant is kept."""
    spliced = reference_splice(old, parent, new, encode_window)
    distance = token_distance(spliced.old, spliced.new, cutoff=cutoff)
    return (spliced.encoded if 0 < distance <= cutoff else None), distance


def measure(
    old: Any,
    parent: Encoded,
    new: Any,
    encode_window: Window,
    starts_of: Callable[[list[int]], list[int]],
    cutoff: int,
) -> tuple[Encoded | None, int]:
    """`reference_measure`, in one compiled call for bytes where it is built: splice, then the
    distance between the swapped spans (`starts_of` as in `splice`)."""
    if _compiled is None or not isinstance(old, bytes):
        return reference_measure(old, parent, new, encode_window, cutoff)
    ids, _, _, _, _, _, distance = _compiled.measure_bytes(
        old, new, parent.ids, parent.starts, encode_window, cutoff
    )
    return (None if ids is None else Encoded(ids, lambda: starts_of(ids))), distance


def reference_token_starts(ids: list[int], lengths: list[int]) -> list[int]:
    """Where each token starts, given each id's length in the offset unit (`lengths[id]`)."""
    return [0, *accumulate(map(lengths.__getitem__, ids[:-1]))] if ids else []


def token_starts(ids: list[int], lengths: list[int]) -> list[int]:
    """`reference_token_starts`, compiled where the loop is built."""
    if _compiled is None:
        return reference_token_starts(ids, lengths)
    return _compiled.token_starts(ids, lengths)


#: `tokenizer.json` components under which a safe cut stays local: per-character (or
#: starter-bounded) normalizers, pre-tokenizers that split at spaces, per-word models.
LOCAL_NORMALIZERS = frozenset(
    {"BertNormalizer", "Lowercase", "NFC", "NFD", "NFKC", "NFKD", "StripAccents"}
)
LOCAL_PRE_TOKENIZERS = frozenset(
    {"BertPreTokenizer", "Whitespace", "WhitespaceSplit", "Punctuation", "Digits", "ByteLevel"}
)
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
    return (
        _all_local(config.get("normalizer"), LOCAL_NORMALIZERS, "normalizers")
        and _all_local(config.get("pre_tokenizer"), LOCAL_PRE_TOKENIZERS, "pretokenizers")
        and model.get("type") in LOCAL_MODELS
        and not model.get("dropout")
        and all(
            not t.get("lstrip")
            and not t.get("rstrip")
            and not any(c.isspace() for c in t.get("content", " "))
            for t in added
        )
    )
