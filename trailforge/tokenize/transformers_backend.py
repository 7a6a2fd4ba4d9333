"""A tokenizer through transformers' AutoTokenizer: a local model folder, or `hf:<repo-id>`."""

from __future__ import annotations

import json
from typing import Sequence

from ..errors import TokenizerError
from ..settings import hub_offline
from .base import Encoded, Splice, label_of, sha256_of, whole


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
            hint = (
                "the folder needs tokenizer.json or the files of a slow tokenizer"
                if where == "folder"
                else "check the repo id and your network (HF_HUB_OFFLINE "
                "allows only cached repos); offline, pass a local tokenizer.json or a "
                "downloaded model folder instead"
            )
            raise TokenizerError(
                f"cannot load tokenizer from {where} {source!r}: "
                f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
                hint=hint,
            ) from None
        self._tok = tok
        self.name = spec
        self.label = label or label_of(source.rstrip("/").split("/")[-1])
        self.vocab_size = len(tok)
        backend = getattr(tok, "backend_tokenizer", None)
        body = (
            backend.to_str() if backend is not None else json.dumps(sorted(tok.get_vocab().items()))
        )
        self.fingerprint = sha256_of("transformers", body)
        self.local = False  # slow tokenizers and custom code: locality is not proven

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        return list(self._tok(list(texts), add_special_tokens=False)["input_ids"])

    def encode(self, text: str) -> Encoded:
        return Encoded(self.encode_batch([text])[0], None)

    def encode_edit(self, parent_text: str, parent: Encoded, text: str) -> Splice:
        return whole(self, parent, text)

    def decode(self, ids: Sequence[int]) -> str:
        return str(self._tok.decode(list(ids)))
