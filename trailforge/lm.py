"""A language model, loaded by the same rules wherever one is used (`eval`, `drift`, and the
curriculum's `difficulty: {by: surprisal}`), and a causal LM as a scorer of texts.

SPEC is a local folder written by `save_pretrained` (e.g. by bench/usefulness.py) or
`hf:ORG/NAME` (needs the network once, or the Hub cache with HF_HUB_OFFLINE=1). Inference is
batched under `torch.no_grad()`, on CUDA when available unless a device is named.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from .errors import ModelError
from .settings import hub_offline

INSTALL_HINT = (
    "install torch and the drift extra: pip install torch==2.13.0 (CPU) first, then "
    "pip install -e '.[drift]'"
)


def require_torch(purpose: str) -> Any:
    """torch, or a ModelError saying what needs it."""
    try:
        import torch
    except ImportError:
        raise ModelError(
            f"{purpose} needs torch, which is not installed", hint=INSTALL_HINT
        ) from None
    return torch


def is_causal(config: Any) -> bool:
    """Whether a transformers config describes a decoder that predicts the next token."""
    return any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in config.architectures or [])


@dataclass
class Loaded:
    """A model in eval mode on its device, with its tokenizer (which has a pad token), and a
    fingerprint of what was loaded."""

    model: Any
    tokenizer: Any
    config: Any
    causal: bool
    device: str
    torch: Any
    fingerprint: str


def _fingerprint(where: str, config: Any) -> str:
    """sha256 over a local folder's files (names and contents), or the Hub commit loaded."""
    folder = Path(where)
    if not folder.is_dir():
        return f"hub:{where}@{getattr(config, '_commit_hash', None) or 'unknown'}"
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        digest.update(path.name.encode() + b"\0")
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def resolve_device(torch: Any, device: str) -> str:
    """`device` checked before any weights are read: `auto` is CUDA where torch sees a GPU, else
    the CPU; a device torch does not know, or CUDA where it is not available, is a ModelError."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        kind = torch.device(device).type
    except (RuntimeError, ValueError):
        raise ModelError(
            f"unknown device {device!r}", hint="use auto, cpu, cuda or cuda:N"
        ) from None
    if kind == "cuda" and not torch.cuda.is_available():
        raise ModelError(
            f"device {device!r} asked for, but CUDA is not available to torch {torch.__version__}",
            hint="use --device cpu (or auto, which picks CUDA only where there is a GPU)",
        )
    return device


def load_model(
    spec: str,
    purpose: str,
    *,
    causal_only: bool = False,
    device: str = "auto",
    source: str | None = None,
) -> Loaded:
    """Load `spec` (a local folder or hf:ORG/NAME; `source` overrides where the files are read
    from). `causal_only` refuses an encoder. Every failure is a ModelError naming the spec."""
    torch = require_torch(purpose)
    device = resolve_device(torch, device)
    import transformers
    from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoTokenizer

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    hub = spec.startswith("hf:")
    where = source or (spec[3:] if hub else spec)
    if not hub and not Path(where).is_dir():
        raise ModelError(
            f"no model folder {spec!r}",
            file=where,
            hint="pass a folder written by save_pretrained, or hf:ORG/NAME",
        )
    local = not hub or hub_offline()
    try:
        config = AutoConfig.from_pretrained(where, local_files_only=local)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(
            f"cannot load model {spec!r}: {str(exc).splitlines()[0]}",
            hint="pass a local model folder, or hf:ORG/NAME with network",
        ) from None
    causal = is_causal(config)
    if causal_only and not causal:
        raise ModelError(
            f"{spec!r} is not a causal language model "
            f"({', '.join(config.architectures or ['no architecture'])})",
            hint=f"{purpose} scores texts with a decoder (GPT-2, Llama, ...); an "
            "encoder such as BERT cannot",
        )
    try:
        tokenizer = AutoTokenizer.from_pretrained(where, local_files_only=local)
        loader = AutoModelForCausalLM if causal else AutoModel
        model = loader.from_pretrained(where, local_files_only=local)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(
            f"cannot load model {spec!r}: {str(exc).splitlines()[0]}",
            hint="a model folder holds what save_pretrained writes: config.json, the weights "
            "(model.safetensors or pytorch_model.bin) and the tokenizer's files",
        ) from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    model.to(device).eval()  # type: ignore[arg-type]  # transformers' stub types `to` loosely
    return Loaded(model, tokenizer, config, causal, device, torch, _fingerprint(where, config))


class CausalScorer:
    """A causal LM that scores completions by their token log-probabilities after a prompt."""

    def __init__(
        self, spec: str, purpose: str = "scoring", device: str = "auto", batch_size: int = 16
    ) -> None:
        loaded = load_model(spec, purpose, causal_only=True, device=device)
        if not loaded.tokenizer.is_fast:
            raise ModelError(
                f"{spec!r} has no fast tokenizer (tokenizer.json)",
                hint="scoring needs character offsets to find where a completion starts",
            )
        self.model, self.tokenizer, self.torch = loaded.model, loaded.tokenizer, loaded.torch
        self.device, self.fingerprint = loaded.device, loaded.fingerprint
        self.batch_size = batch_size
        self.max_length = getattr(loaded.config, "n_positions", None) or getattr(
            loaded.config, "max_position_embeddings", 1024
        )
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
                batch = order[start : start + self.batch_size]
                batch_p = [prompts[i] for i in batch]
                batch_c = [completions[i] for i in batch]
                enc = self.tokenizer(
                    [p + c for p, c in zip(batch_p, batch_c)],
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_offsets_mapping=True,
                    return_tensors="pt",
                )
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

    def surprisal(self, text: str) -> float:
        """Mean surprisal of a text's tokens in nats (every token but the first), scored alone
        on one thread: no padding and no batch neighbours, so the value depends on the text
        only, never on how a build was split into shards or workers."""
        threads = self.torch.get_num_threads()
        self.torch.set_num_threads(1)
        try:
            total, count = self.text_logps([text])[0]
        finally:
            self.torch.set_num_threads(threads)
        return -total / count if count else 0.0
