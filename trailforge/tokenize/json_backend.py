"""Any Hugging Face `tokenizer.json` (byte-level BPE, SentencePiece-style BPE, WordPiece, ...)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Sequence

from ..errors import TokenizerError
from .base import Encoded, Splice, label_of, sha256_of, whole
from .local import is_local_pipeline, splice, window_cache


class JsonTokenizer:
    """Any `tokenizer.json` (Hugging Face tokenizers), without padding or truncation."""

    def __init__(self, path: str, label: str | None = None) -> None:
        from tokenizers import Tokenizer as HFTokenizer

        file = Path(path)
        try:
            tok = HFTokenizer.from_file(str(file))
        except Exception as exc:  # tokenizers raises a bare Exception on bad files
            raise TokenizerError(
                f"cannot load tokenizer file: {exc}",
                file=file,
                hint="give a tokenizer.json saved by Hugging Face tokenizers",
            ) from None
        tok.no_padding()
        tok.no_truncation()
        self._tok = tok
        self.name = str(path)
        stem = file.stem if file.stem != "tokenizer" else file.resolve().parent.name
        self.label = label or label_of(stem)
        self.vocab_size = tok.get_vocab_size(with_added_tokens=True)
        self.fingerprint = sha256_of("tokenizers", tok.to_str())
        self.local = is_local_pipeline(json.loads(tok.to_str()))
        self._cached_window = window_cache(self._encode_window)

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        return [e.ids for e in self._tok.encode_batch(list(texts), add_special_tokens=False)]

    def _encode_window(self, text: str) -> tuple[list[int], Callable[[], list[int]]]:
        encoding = self._tok.encode(text, add_special_tokens=False)
        return encoding.ids, lambda: [start for start, _ in encoding.offsets]

    def encode(self, text: str) -> Encoded:
        return Encoded(*self._encode_window(text))

    def encode_edit(self, parent_text: str, parent: Encoded, text: str) -> Splice:
        if not self.local:
            return whole(self, parent, text)
        return splice(parent_text, parent, text, self._cached_window)

    def decode(self, ids: Sequence[int]) -> str:
        return self._tok.decode(list(ids), skip_special_tokens=False)
