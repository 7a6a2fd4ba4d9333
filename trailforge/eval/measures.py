"""What `trailforge eval` measures, as pure functions of a scorer.

A scorer maps (prompts, completions) to one number per pair: the mean log-probability per token of
the completion after its prompt (higher: the model finds it likelier). Length-normalising keeps a
short wrong conclusion from beating a long right one. Every figure comes with its n and a 95%
interval: Wilson's for proportions, a normal interval for means.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

Scorer = Callable[[Sequence[str], Sequence[str]], list[float]]
Z = 1.959964  # two-sided 95%


@dataclass(frozen=True)
class Figure:
    """One measured figure: value, its n and a 95% interval."""

    value: float
    n: int
    low: float
    high: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "value": round(self.value, 6),
            "n": self.n,
            "ci95": [round(self.low, 6), round(self.high, 6)],
        }


def share(hits: int, n: int) -> Figure:
    """A proportion with Wilson's 95% interval (NaN when n is 0)."""
    if n == 0:
        return Figure(math.nan, 0, math.nan, math.nan)
    p = hits / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / (1 + Z * Z / n)
    return Figure(p, n, max(0.0, centre - half), min(1.0, centre + half))


def mean(values: Sequence[float]) -> Figure:
    """A mean with a normal 95% interval (the interval is the point when n < 2)."""
    n = len(values)
    if n == 0:
        return Figure(math.nan, 0, math.nan, math.nan)
    m = sum(values) / n
    if n < 2:
        return Figure(m, n, m, m)
    sd = math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1))
    return Figure(m, n, m - Z * sd / math.sqrt(n), m + Z * sd / math.sqrt(n))


@dataclass(frozen=True)
class Question:
    """A prompt, the completion that follows from it, and wrong completions to rank it against."""

    prompt: str
    right: str
    wrong: tuple[str, ...]
    group: tuple[str, ...] = ()  # labels to break figures down by (stage, domain)


def candidate_scores(questions: Sequence[Question], score: Scorer) -> list[list[float]]:
    """Each question's candidate scores, right first then wrong, all scored in one batch."""
    prompts: list[str] = []
    completions: list[str] = []
    spans: list[int] = []
    for q in questions:
        candidates = (q.right, *q.wrong)
        spans.append(len(candidates))
        prompts += [q.prompt] * len(candidates)
        completions += candidates
    scores = score(prompts, completions)
    out, start = [], 0
    for width in spans:
        out.append(scores[start : start + width])
        start += width
    return out


def ranks(questions: Sequence[Question], score: Scorer) -> list[int]:
    """The rank of each question's right completion among its candidates (1 = the model's top
    choice; a tie counts against the right one)."""
    return [
        1 + sum(w >= right for w in wrong) for right, *wrong in candidate_scores(questions, score)
    ]


def recall(questions: Sequence[Question], score: Scorer) -> dict[str, object]:
    """Conclusion recall: accuracy@1 and mean rank, overall and by each group label."""
    found = ranks(questions, score)
    report: dict[str, object] = {
        "accuracy_at_1": share(sum(r == 1 for r in found), len(found)),
        "mean_rank": mean([float(r) for r in found]),
    }
    by: dict[str, dict[str, list[int]]] = {}
    for question, rank in zip(questions, found):
        for label in question.group:
            kind, _, value = label.partition("=")
            by.setdefault(kind, {}).setdefault(value, []).append(rank)
    for kind, groups in sorted(by.items()):
        report[f"by_{kind}"] = {
            value: {
                "accuracy_at_1": share(sum(r == 1 for r in rs), len(rs)),
                "mean_rank": mean([float(r) for r in rs]),
            }
            for value, rs in sorted(groups.items())
        }
    return report


def minimal_pairs(pairs: Sequence[tuple[str, str, str]], score: Scorer) -> Figure:
    """The share of (prompt, chosen, rejected) pairs where chosen scores strictly higher; a pair
    whose chosen equals its rejected can never count as right."""
    prompts = [p for p, _, _ in pairs for _ in (0, 1)]
    completions = [c for _, chosen, rejected in pairs for c in (chosen, rejected)]
    scores = score(prompts, completions)
    hits = sum(
        scores[2 * i] > scores[2 * i + 1] and pair[1] != pair[2] for i, pair in enumerate(pairs)
    )
    return share(hits, len(pairs))


def stability(families: Sequence[Sequence[Question]], score: Scorer) -> Figure:
    """The share of families whose top-ranked candidate is the same for the base and every
    meaning-preserving variant (each family's questions share one candidate set)."""
    scored = candidate_scores([q for family in families for q in family], score)
    tops = iter(max(range(len(s)), key=lambda i: (s[i], -i)) for s in scored)
    stable = sum(len({next(tops) for _ in family}) == 1 for family in families)
    return share(stable, len(families))


def flip_sensitivity(questions: Sequence[Question], score: Scorer) -> Figure:
    """The share of flipped chains whose top choice is the flipped conclusion (the question's
    right completion; the parent's conclusion is among the wrong ones)."""
    found = ranks(questions, score)
    return share(sum(r == 1 for r in found), len(found))


def perplexity(token_logps: Sequence[tuple[float, int]]) -> dict[str, object]:
    """Perplexity over texts given (sum of token log-probabilities, token count) per text, and the
    mean per-text log-probability per token with its interval."""
    total = sum(lp for lp, _ in token_logps)
    tokens = sum(n for _, n in token_logps)
    per_text = [lp / n for lp, n in token_logps if n]
    return {
        "perplexity": math.exp(-total / tokens) if tokens else math.nan,
        "tokens": tokens,
        "mean_logp_per_token": mean(per_text),
    }
