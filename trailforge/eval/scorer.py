"""A causal language model as a scorer: log-probabilities of completions after prompts.

The model is a local folder (a `save_pretrained` folder, e.g. one written by
bench/usefulness.py) or `hf:ORG/NAME` (needs the network once, or the Hub cache with
HF_HUB_OFFLINE=1). Inference is batched under `torch.no_grad()`, on CUDA when available.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from ..errors import TrailforgeError

INSTALL_HINT = ("eval needs torch and transformers: pip install torch==2.13.0 (CPU) first, then "
                "pip install -e '.[drift]'")


class EvalError(TrailforgeError):
    """The model or the version to evaluate is unusable."""


class CausalScorer:
    """Loads a causal LM once; scores completions by their mean token log-probability."""

    def __init__(self, spec: str, device: str = "auto", batch_size: int = 16) -> None:
        try:
            import torch
            import transformers
            from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
        except ImportError:
            raise EvalError("eval needs torch, which is not installed", hint=INSTALL_HINT) from None
        transformers.utils.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
        hub = spec.startswith("hf:")
        source = spec[3:] if hub else spec
        if not hub and not Path(source).is_dir():
            raise EvalError(f"no model folder {spec!r}", file=source,
                            hint="pass a folder written by save_pretrained, or hf:ORG/NAME")
        local = not hub or os.environ.get("HF_HUB_OFFLINE") == "1"
        try:
            config = AutoConfig.from_pretrained(source, local_files_only=local)
        except (OSError, ValueError, KeyError) as exc:
            raise EvalError(f"cannot load model {spec!r}: {str(exc).splitlines()[0]}",
                            hint="pass a local model folder, or hf:ORG/NAME with network") from None
        causal = any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in config.architectures or [])
        if not causal:
            raise EvalError(f"{spec!r} is not a causal language model "
                            f"({', '.join(config.architectures or ['no architecture'])})",
                            hint="eval scores completions with a decoder (GPT-2, Llama, ...); an "
                            "encoder such as BERT cannot")
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=local)
            self.model = AutoModelForCausalLM.from_pretrained(source, local_files_only=local)
        except (OSError, ValueError, KeyError) as exc:
            raise EvalError(f"cannot load model {spec!r}: {str(exc).splitlines()[0]}") from None
        if not self.tokenizer.is_fast:
            raise EvalError(f"{spec!r} has no fast tokenizer (tokenizer.json)",
                            hint="eval needs character offsets to find where a completion starts")
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token or self.tokenizer.unk_token
        self.torch = torch
        self.device = ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device
        self.model.to(self.device).eval()
        self.batch_size = batch_size
        self.max_length = getattr(config, "n_positions", None) or getattr(
            config, "max_position_embeddings", 1024)
        self.name = spec

    def _logps(self, prompts: Sequence[str], completions: Sequence[str]) -> list[tuple[float, int]]:
        """(sum of log-probabilities, token count) of each completion's tokens after its prompt:
        the tokens that cover any completion character, each predicted from what precedes it."""
        torch = self.torch
        # batches of similar length pad less; results go back in the callers' order
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]) + len(completions[i]))
        out: list[tuple[float, int]] = [(0.0, 0)] * len(prompts)
        with torch.no_grad():
            for start in range(0, len(order), self.batch_size):
                batch = order[start:start + self.batch_size]
                batch_p = [prompts[i] for i in batch]
                batch_c = [completions[i] for i in batch]
                enc = self.tokenizer([p + c for p, c in zip(batch_p, batch_c)], padding=True,
                                     truncation=True, max_length=self.max_length,
                                     return_offsets_mapping=True, return_tensors="pt")
                ends = enc.pop("offset_mapping")[:, 1:, 1]
                enc = {k: v.to(self.device) for k, v in enc.items()}
                logits = self.model(**enc).logits[:, :-1].float()
                picked = logits.gather(-1, enc["input_ids"][:, 1:, None]).squeeze(-1)
                token_logp = (picked - logits.logsumexp(dim=-1)).cpu()
                starts = torch.tensor([len(p) for p in batch_p])[:, None]
                taken = enc["attention_mask"][:, 1:].bool().cpu() & (ends > starts)
                totals = (token_logp * taken).sum(dim=1).tolist()
                for i, total, count in zip(batch, totals, taken.sum(dim=1).tolist()):
                    out[i] = (total, count)
        return out

    def score(self, prompts: Sequence[str], completions: Sequence[str]) -> list[float]:
        """Mean log-probability per token of each completion after its prompt."""
        return [total / n if n else float("-inf") for total, n in self._logps(prompts, completions)]

    def text_logps(self, texts: Sequence[str]) -> list[tuple[float, int]]:
        """(sum, count) of the log-probabilities of every token of each text but the first."""
        return self._logps([""] * len(texts), list(texts))
