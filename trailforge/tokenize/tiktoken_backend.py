"""OpenAI encodings through tiktoken, from the rank files the `bpe-openai` package ships."""

from __future__ import annotations

import hashlib
import json
from typing import Callable, Sequence

from ..errors import TokenizerError
from .base import Encoded, Splice, label_of, measured, sha256_of, whole
from .local import measure, splice, token_starts, utf8, window_cache

#: tiktoken encodings whose split pattern is known to split at every safe cut and to read no
#: further than the cut's space before it: no look-behind, letter runs stop at a space, and every
#: other alternative stops at a letter (checked against full encoding by the property tests).
LOCAL_TIKTOKEN = frozenset({"cl100k_base", "o200k_base", "voyage3_base"})


def tiktoken_names() -> list[str]:
    """The tiktoken encodings that load offline: `bpe-openai` ships their rank files."""
    return sorted(LOCAL_TIKTOKEN)


class TiktokenTokenizer:
    """An OpenAI encoding, built from the rank files the `bpe-openai` package ships."""

    def __init__(self, name: str, label: str | None = None) -> None:
        import tiktoken
        from bpe_openai import registry

        constructor = registry.ENCODING_CONSTRUCTORS.get(name)
        if constructor is None:
            raise TokenizerError(
                f"unknown tiktoken encoding {name!r}",
                hint=f"offline encodings: {', '.join(tiktoken_names())}",
            )
        kwargs = constructor()
        self._encoding = tiktoken.Encoding(**kwargs)
        self.name = name
        self.label = label or label_of(name)
        self.vocab_size = self._encoding.n_vocab
        ranks = kwargs["mergeable_ranks"]
        self.local = name in LOCAL_TIKTOKEN
        self._cached_window = window_cache(self._encode_window)
        self._lengths = [0] * (max(ranks.values()) + 1)  # token id -> byte length
        for token, rank in ranks.items():
            self._lengths[rank] = len(token)
        self.fingerprint = sha256_of(
            "tiktoken",
            kwargs["pat_str"],
            json.dumps(sorted(kwargs.get("special_tokens", {}).items())),
            hashlib.sha256(
                b"".join(
                    k + b"\xff" + str(v).encode()
                    for k, v in sorted(ranks.items(), key=lambda kv: kv[1])
                )
            ).hexdigest(),
        )

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        encode = self._encoding.encode_ordinary  # a loop beats the threaded batch on short texts
        return [encode(t) for t in texts]

    def _byte_starts(self, ids: list[int]) -> list[int]:
        return token_starts(ids, self._lengths)

    def _encode_window(self, window: bytes) -> tuple[list[int], Callable[[], list[int]]]:
        ids = self._encoding.encode_ordinary(window.decode("utf-8"))  # cuts are ASCII: valid UTF-8
        return ids, lambda: self._byte_starts(ids)

    def encode(self, text: str) -> Encoded:
        return Encoded(*self._encode_window(text.encode("utf-8")))

    def encode_edit(self, parent_text: str, parent: Encoded, text: str) -> Splice:
        if not self.local:
            return whole(self, parent, text)
        return splice(utf8(parent_text), parent, utf8(text), self._cached_window, self._byte_starts)

    def measure_edit(
        self, parent_text: str, parent: Encoded, text: str, cutoff: int
    ) -> tuple[Encoded | None, int]:
        """`encode_edit` and the token distance of the edit in one step (`base.measure_edit`)."""
        if not self.local:
            return measured(whole(self, parent, text), cutoff)
        return measure(
            utf8(parent_text), parent, utf8(text), self._cached_window, self._byte_starts, cutoff
        )

    def decode(self, ids: Sequence[int]) -> str:
        return self._encoding.decode(list(ids))
